// The panel's side of the desk panel protocol, version 1: see panel_protocol.h.

#include "panel_protocol.h"

#include <string.h>

namespace panel {

namespace {

const uint8_t FIELD_COUNT_V = 2, FIELD_COUNT_S = 5, FIELD_COUNT_H = 0, FIELD_COUNT_A = 2,
              FIELD_COUNT_B = 1;

const char *const MODE_NAMES[] = {"AUTO", "OPEN", "LUNCH", "CLOSED"};
const char *const BUTTON_NAMES[] = {"LUNCH", "CLOSED", "AWAY"};
const char HEX_DIGITS[] = "0123456789ABCDEF";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// A decimal of at most `most`, digits only; false when empty, not digits, or too big.
bool read_number(const char *text, uint32_t most, uint32_t *value) {
    if (*text == '\0') return false;
    uint32_t number = 0;
    for (; *text; text++) {
        if (*text < '0' || *text > '9') return false;
        number = number * 10 + (uint32_t)(*text - '0');
        if (number > most) return false;
    }
    *value = number;
    return true;
}

int field_count(char type) {
    switch (type) {
        case 'V': return FIELD_COUNT_V;
        case 'S': return FIELD_COUNT_S;
        case 'H': return FIELD_COUNT_H;
        case 'A': return FIELD_COUNT_A;
        case 'B': return FIELD_COUNT_B;
        default: return -1;
    }
}

// Appends the decimal `value` at `out`; returns the number of characters written.
size_t put_number(uint16_t value, char *out) {
    char digits[5];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

}  // namespace

uint8_t checksum(const char *body, size_t length) {
    uint8_t value = 0;
    for (size_t i = 0; i < length; i++) value ^= (uint8_t)body[i];
    return value;
}

ParseError parse_frame(char *line, size_t length, Frame *frame) {
    size_t start = length;
    for (size_t i = length; i > 0; i--) {
        if (line[i - 1] == '$') {
            start = i - 1;
            break;
        }
    }
    if (start == length) return PARSE_NO_DOLLAR;
    char *text = line + start + 1;
    size_t n = length - start - 1;
    while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n')) n--;
    size_t star = n;
    for (size_t i = n; i > 0; i--) {
        if (text[i - 1] == '*') {
            star = i - 1;
            break;
        }
    }
    if (star == n || n - star - 1 != 2) return PARSE_NO_CHECKSUM;
    int high = hex_value(text[star + 1]), low = hex_value(text[star + 2]);
    if (high < 0 || low < 0 || checksum(text, star) != (uint8_t)(high << 4 | low)) {
        return PARSE_BAD_CHECKSUM;
    }
    for (size_t i = 0; i < star; i++) {  // printable ASCII only: it goes to a display
        if ((uint8_t)text[i] < 0x20 || (uint8_t)text[i] > 0x7E) return PARSE_NOT_A_FRAME;
    }
    text[star] = '\0';
    char *parts[2 + MAX_FIELDS];
    uint8_t count = 0;
    parts[count++] = text;
    for (size_t i = 0; i < star; i++) {
        if (text[i] != ',') continue;
        if (count == 2 + MAX_FIELDS) return PARSE_BAD_TYPE;  // more fields than any type has
        text[i] = '\0';
        parts[count++] = text + i + 1;
    }
    if (count < 2) return PARSE_NOT_A_FRAME;
    if (strlen(parts[0]) != 1 || field_count(parts[0][0]) != count - 2) return PARSE_BAD_TYPE;
    uint32_t seq;
    if (!read_number(parts[1], 65535, &seq)) return PARSE_BAD_SEQ;
    frame->type = parts[0][0];
    frame->seq = (uint16_t)seq;
    frame->count = (uint8_t)(count - 2);
    for (uint8_t i = 0; i < MAX_FIELDS; i++) frame->field[i] = i < frame->count ? parts[2 + i] : "";
    return PARSE_OK;
}

size_t write_frame(char type, uint16_t seq, const char *const *fields, uint8_t count, char *out,
                   size_t room) {
    char line[MAX_LINE + 2];
    size_t n = 0;
    line[n++] = '$';
    line[n++] = type;
    line[n++] = ',';
    n += put_number(seq, line + n);
    for (uint8_t i = 0; i < count; i++) {
        size_t length = strlen(fields[i]);
        if (n + 1 + length + 3 > MAX_LINE) return 0;
        line[n++] = ',';
        memcpy(line + n, fields[i], length);
        n += length;
    }
    uint8_t sum = checksum(line + 1, n - 1);
    line[n++] = '*';
    line[n++] = HEX_DIGITS[sum >> 4];
    line[n++] = HEX_DIGITS[sum & 0x0F];
    line[n++] = '\n';
    if (n + 1 > room) return 0;
    memcpy(out, line, n);
    out[n] = '\0';
    return n;
}

const char *mode_name(Mode mode) { return MODE_NAMES[mode]; }

const char *button_name(Button button) { return BUTTON_NAMES[button]; }

bool read_state(const Frame &frame, State *state) {
    if (frame.type != 'S' || frame.count != FIELD_COUNT_S) return false;
    uint32_t waiting, longest, available;
    if (!read_number(frame.field[0], 999, &waiting)) return false;
    if (!read_number(frame.field[1], 99999, &longest)) return false;
    if (!read_number(frame.field[2], 999, &available)) return false;
    const char *level = frame.field[3];
    if (strlen(level) != 1 || strchr("GAR", level[0]) == NULL) return false;
    for (uint8_t mode = MODE_AUTO; mode <= MODE_CLOSED; mode++) {
        if (strcmp(frame.field[4], MODE_NAMES[mode]) == 0) {
            state->waiting = (uint16_t)waiting;
            state->longest = longest;
            state->available = (uint16_t)available;
            state->level = level[0];
            state->mode = (Mode)mode;
            return true;
        }
    }
    return false;
}

LineReader::LineReader() : overlong(0) { reset(); }

void LineReader::reset() {
    length_ = 0;
    complete_ = false;
    discarding_ = false;
    buffer_[0] = '\0';
}

bool LineReader::feed(char byte) {
    if (complete_) {  // the line handed out last time is done with
        length_ = 0;
        complete_ = false;
    }
    if (byte == '\n') {
        if (discarding_) {  // the end of a line already counted as overlong
            discarding_ = false;
            length_ = 0;
            return false;
        }
        buffer_[length_] = '\0';
        complete_ = true;
        return true;
    }
    if (discarding_) return false;
    if (length_ == MAX_LINE) {
        overlong++;
        discarding_ = true;
        length_ = 0;
        return false;
    }
    buffer_[length_++] = byte;
    return false;
}

Link::Link()
    : has_state_(false),
      heard_(false),
      heard_at_(0),
      beat_sent_(false),
      beat_at_(0),
      next_seq_(0),
      pending_(false),
      pending_button_(BUTTON_LUNCH),
      pending_seq_(0),
      pending_at_(0),
      tries_(0),
      answer_(ANSWER_NONE),
      dropped_(0),
      version_(0) {
    state_.waiting = 0;
    state_.longest = 0;
    state_.available = 0;
    state_.level = 'G';
    state_.mode = MODE_AUTO;
}

bool Link::receive(char byte, uint32_t now) {
    bool complete = reader_.feed(byte);
    if (reader_.overlong) {
        dropped_ += reader_.overlong;
        reader_.overlong = 0;
    }
    if (!complete) return false;
    Frame frame;
    if (parse_frame(reader_.line(), reader_.length(), &frame) != PARSE_OK) {
        dropped_++;
        return false;
    }
    if (!handle(frame, now)) {
        dropped_++;
        return false;
    }
    heard_ = true;
    heard_at_ = now;
    return true;
}

bool Link::handle(const Frame &frame, uint32_t now) {
    (void)now;
    uint32_t number;
    switch (frame.type) {
        case 'V':
            if (!read_number(frame.field[0], 255, &number)) return false;
            version_ = (uint8_t)number;
            return true;
        case 'S': {
            State state;
            if (!read_state(frame, &state)) return false;
            state_ = state;
            has_state_ = true;
            return true;
        }
        case 'H':
            return true;
        case 'A': {
            bool ok = strcmp(frame.field[1], "OK") == 0;
            if (!read_number(frame.field[0], 65535, &number)) return false;
            if (!ok && strcmp(frame.field[1], "NO") != 0) return false;
            if (pending_ && number == pending_seq_) {
                pending_ = false;
                answer_ = ok ? ANSWER_OK : ANSWER_NO;
            }
            return true;
        }
        default:  // 'B': the panel's own kind of frame, never the daemon's
            return false;
    }
}

size_t Link::poll(uint32_t now, char *out, size_t room) {
    if (!beat_sent_ || now - beat_at_ >= HEARTBEAT_MS) {
        beat_sent_ = true;
        beat_at_ = now;
        return write_frame('H', next_seq_++, NULL, 0, out, room);
    }
    if (pending_ && now - pending_at_ >= ANSWER_WAIT_MS) {
        if (tries_ >= BUTTON_TRIES) {
            pending_ = false;
            answer_ = ANSWER_LOST;
            return 0;
        }
        tries_++;
        pending_at_ = now;
        const char *fields[] = {button_name(pending_button_)};
        return write_frame('B', pending_seq_, fields, 1, out, room);  // the same SEQ again
    }
    return 0;
}

size_t Link::press(Button button, uint32_t now, char *out, size_t room) {
    if (pending_) return 0;
    const char *fields[] = {button_name(button)};
    size_t length = write_frame('B', next_seq_, fields, 1, out, room);
    if (length == 0) return 0;
    pending_ = true;
    pending_button_ = button;
    pending_seq_ = next_seq_++;
    pending_at_ = now;
    tries_ = 1;
    answer_ = ANSWER_NONE;
    return length;
}

bool Link::linked(uint32_t now) const { return heard_ && now - heard_at_ < LINK_LOST_MS; }

Answer Link::take_answer() {
    Answer answer = answer_;
    answer_ = ANSWER_NONE;
    return answer;
}

}  // namespace panel
