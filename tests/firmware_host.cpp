// A host program around the firmware's protocol code (firmware/frontdesk_panel/panel_protocol.*)
// for tests/test_firmware_protocol.py: one command a line on stdin, one answer a line on stdout.
//
//   parse HEX                 -> ok TYPE SEQ FIELD|FIELD...   or   err CODE
//   state HEX                 -> ok WAITING LONGEST AVAILABLE LEVEL MODE   or   err
//   write TYPE SEQ [FIELD...] -> frame LINE (without its '\n')   or   err
//   recv NOW HEX              -> valid N (frames from the daemon completed by these bytes)
//   poll NOW                  -> send [LINE...]
//   press BUTTON NOW          -> send LINE   or   busy
//   show NOW                  -> linked=0|1 state=... pressing=0|1 answer=... dropped=N version=N
//
// HEX is the bytes as hexadecimal digits (so that any byte, '\n' included, can be given).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "panel_protocol.h"

using namespace panel;

static std::string unhex(const std::string &hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += (char)std::strtol(hex.substr(i, 2).c_str(), NULL, 16);
    }
    return bytes;
}

static std::string chomp(const char *line) {
    std::string text(line);
    if (!text.empty() && text[text.size() - 1] == '\n') text.erase(text.size() - 1);
    return text;
}

static const char *answer_name(Answer answer) {
    switch (answer) {
        case ANSWER_OK: return "OK";
        case ANSWER_NO: return "NO";
        case ANSWER_LOST: return "LOST";
        default: return "NONE";
    }
}

int main() {
    Link link;
    std::string command_line;
    while (std::getline(std::cin, command_line)) {
        std::istringstream in(command_line);
        std::string command;
        in >> command;
        char out[FRAME_ROOM];
        if (command == "parse" || command == "state") {
            std::string hex;
            in >> hex;
            std::string bytes = unhex(hex);
            std::vector<char> line(bytes.begin(), bytes.end());
            line.push_back('\0');
            Frame frame;
            ParseError error = parse_frame(&line[0], bytes.size(), &frame);
            if (error != PARSE_OK) {
                std::cout << "err " << (command == "parse" ? (int)error : 0) << "\n";
                continue;
            }
            if (command == "parse") {
                std::cout << "ok " << frame.type << " " << frame.seq << " ";
                for (uint8_t i = 0; i < frame.count; i++) {
                    std::cout << (i ? "|" : "") << frame.field[i];
                }
                std::cout << "\n";
                continue;
            }
            State state;
            if (!read_state(frame, &state)) {
                std::cout << "err\n";
                continue;
            }
            std::cout << "ok " << state.waiting << " " << state.longest << " " << state.available
                      << " " << state.level << " " << mode_name(state.mode) << "\n";
        } else if (command == "write") {
            std::string type;
            unsigned seq;
            in >> type >> seq;
            std::vector<std::string> fields;
            std::string field;
            while (in >> field) fields.push_back(field);
            std::vector<const char *> pointers;
            for (size_t i = 0; i < fields.size(); i++) pointers.push_back(fields[i].c_str());
            size_t length = write_frame(type[0], (uint16_t)seq,
                                        pointers.empty() ? NULL : &pointers[0],
                                        (uint8_t)pointers.size(), out, sizeof out);
            if (length == 0) {
                std::cout << "err\n";
            } else {
                std::cout << "frame " << chomp(out) << "\n";
            }
        } else if (command == "recv") {
            unsigned long now;
            std::string hex;
            in >> now >> hex;
            std::string bytes = unhex(hex);
            int valid = 0;
            for (size_t i = 0; i < bytes.size(); i++) valid += link.receive(bytes[i], (uint32_t)now);
            std::cout << "valid " << valid << "\n";
        } else if (command == "poll") {
            unsigned long now;
            in >> now;
            std::cout << "send";
            while (size_t length = link.poll((uint32_t)now, out, sizeof out)) {
                (void)length;
                std::cout << " " << chomp(out);
            }
            std::cout << "\n";
        } else if (command == "press") {
            std::string name;
            unsigned long now;
            in >> name >> now;
            Button button = name == "LUNCH" ? BUTTON_LUNCH
                            : name == "CLOSED" ? BUTTON_CLOSED
                                               : BUTTON_AWAY;
            if (link.press(button, (uint32_t)now, out, sizeof out)) {
                std::cout << "send " << chomp(out) << "\n";
            } else {
                std::cout << "busy\n";
            }
        } else if (command == "show") {
            unsigned long now;
            in >> now;
            const State &s = link.state();
            std::cout << "linked=" << link.linked((uint32_t)now) << " state=";
            if (link.has_state()) {
                std::cout << s.waiting << "," << s.longest << "," << s.available << ","
                          << s.level << "," << mode_name(s.mode);
            } else {
                std::cout << "-";
            }
            std::cout << " pressing=" << link.pressing()
                      << " answer=" << answer_name(link.take_answer())
                      << " dropped=" << link.dropped()
                      << " version=" << (int)link.daemon_version() << "\n";
        } else {
            std::cout << "unknown command\n";
        }
    }
    return 0;
}
