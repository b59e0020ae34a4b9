// The panel's side of the desk panel protocol, version 1 (docs/panel-protocol.md).
//
// Plain C++ (C++11, no Arduino, no heap, no exceptions): the sketch feeds it the bytes it
// reads and the time in milliseconds, and writes out the frames it is given; the test suite
// compiles the same two files on the host (tests/test_firmware_protocol.py).

#ifndef FRONTDESK_PANEL_PROTOCOL_H
#define FRONTDESK_PANEL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

namespace panel {

const uint8_t PROTOCOL_VERSION = 1;
const size_t MAX_LINE = 80;           // bytes of a line without its '\n'; longer: dropped whole
const uint8_t MAX_FIELDS = 5;         // after the sequence number (a state frame has 5)
const size_t FRAME_ROOM = MAX_LINE + 2;  // a buffer that holds any frame we send, '\n', NUL
const uint32_t HEARTBEAT_MS = 2000;   // the panel says it is there this often
const uint32_t ANSWER_WAIT_MS = 2000; // a button frame with no answer by then is sent again
const uint8_t BUTTON_TRIES = 5;       // ... this many times in all, then the press is lost
const uint32_t LINK_LOST_MS = 6000;   // no valid frame from the daemon this long: "no link"
                                      // (three of its heartbeats at its default 2 s)

enum ParseError {
    PARSE_OK = 0,
    PARSE_NO_DOLLAR,      // no '$' on the line
    PARSE_NO_CHECKSUM,    // no '*' followed by exactly two characters
    PARSE_BAD_CHECKSUM,   // not hex, or not the XOR of the body
    PARSE_NOT_A_FRAME,    // not ASCII, or no sequence number
    PARSE_BAD_TYPE,       // a type this side does not know, or the wrong number of fields
    PARSE_BAD_SEQ,        // the sequence number is not a decimal 0-65535
};

// A frame cut out of a line: the fields point into that line (valid until it is reused).
struct Frame {
    char type;
    uint16_t seq;
    uint8_t count;
    const char *field[MAX_FIELDS];
};

// The XOR of `length` bytes: the checksum of a frame's body (between '$' and '*').
uint8_t checksum(const char *body, size_t length);

// Parses one line (with or without its line ending; noise before the last '$' is ignored).
// Cuts the line in place (',' and '*' become NULs). Accepts the frame types of both
// directions (V S H A B) with their field counts; the values themselves are checked by
// read_state and the Link.
ParseError parse_frame(char *line, size_t length, Frame *frame);

// Writes "$<type>,<seq>[,<field>...]*<CS>\n" and a NUL into `out`; returns the length without
// the NUL, or 0 when it does not fit in `room` or the line would be longer than MAX_LINE.
size_t write_frame(char type, uint16_t seq, const char *const *fields, uint8_t count, char *out,
                   size_t room);

enum Mode { MODE_AUTO, MODE_OPEN, MODE_LUNCH, MODE_CLOSED };
enum Button { BUTTON_LUNCH, BUTTON_CLOSED, BUTTON_AWAY };
enum Answer { ANSWER_NONE, ANSWER_OK, ANSWER_NO, ANSWER_LOST };

const char *mode_name(Mode mode);        // "AUTO", "OPEN", "LUNCH", "CLOSED"
const char *button_name(Button button);  // "LUNCH", "CLOSED", "AWAY"

// What the daemon asks the panel to show (a state frame, its values checked).
struct State {
    uint16_t waiting;    // callers waiting, 0-999
    uint32_t longest;    // seconds the longest-waiting caller has waited, 0-99999
    uint16_t available;  // staff phones free, 0-999
    char level;          // 'G' green, 'A' amber, 'R' red
    Mode mode;
};

// The state of an 'S' frame; false when a value is missing or out of range.
bool read_state(const Frame &frame, State *state);

// Bytes in, lines out: feed() returns true when a line is complete (line() and length(), the
// '\n' left out). A line longer than MAX_LINE is dropped whole and counted in `overlong`.
class LineReader {
public:
    LineReader();
    bool feed(char byte);
    char *line() { return buffer_; }
    size_t length() const { return length_; }
    void reset();
    uint16_t overlong;

private:
    char buffer_[MAX_LINE + 1];
    size_t length_;
    bool complete_;
    bool discarding_;
};

// The protocol as the panel lives it: heartbeats, the daemon's state, buttons sent and sent
// again until answered, and whether the daemon is still there. Time is the caller's clock in
// milliseconds (millis() on an Arduino; its wrap-around after 49 days is harmless).
class Link {
public:
    Link();
    // One byte from the daemon; true when it completed a valid frame from it.
    bool receive(char byte, uint32_t now);
    // A frame to send now (a heartbeat, a button frame again): written to `out`, its length
    // returned; 0 when there is nothing to send. Call it until it returns 0.
    size_t poll(uint32_t now, char *out, size_t room);
    // A button was pressed: the frame to send, or 0 while an earlier press waits for its answer.
    size_t press(Button button, uint32_t now, char *out, size_t room);

    bool linked(uint32_t now) const;   // a valid frame from the daemon within LINK_LOST_MS
    bool has_state() const { return has_state_; }
    const State &state() const { return state_; }
    bool pressing() const { return pending_; }     // a button frame waits for its answer
    Answer take_answer();              // the answer to the last press, once (then NONE)
    uint16_t dropped() const { return dropped_; }  // lines refused: noise, bad checksum, ...
    uint8_t daemon_version() const { return version_; }

private:
    bool handle(const Frame &frame, uint32_t now);

    LineReader reader_;
    State state_;
    bool has_state_;
    bool heard_;
    uint32_t heard_at_;
    bool beat_sent_;
    uint32_t beat_at_;
    uint16_t next_seq_;
    bool pending_;
    Button pending_button_;
    uint16_t pending_seq_;
    uint32_t pending_at_;
    uint8_t tries_;
    Answer answer_;
    uint16_t dropped_;
    uint8_t version_;
};

}  // namespace panel

#endif
