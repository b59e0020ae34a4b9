// frontdesk desk panel: a reference sketch for an Arduino Nano (ATmega328P) with a WS2812 LED
// strip, a 16x2 character LCD on an I2C backpack and three buttons (LUNCH, CLOSED, AWAY).
// It speaks the desk panel protocol, version 1 (docs/panel-protocol.md) over the Nano's USB
// serial port at 9600 baud, 8N1: set `[panel] driver = "frontdesk"` (the default).
//
// Wiring, libraries and flashing: firmware/README.md. The protocol itself is in
// panel_protocol.h/.cpp (plain C++, tested on the host); this file is the board around it.

#include <Arduino.h>
#include <Wire.h>
#include <Adafruit_NeoPixel.h>
#include <LiquidCrystal_I2C.h>
#include <stdio.h>
#include <string.h>

#include "panel_protocol.h"

// -- the board: change these to match yours -----------------------------------------------

const uint8_t STRIP_PIN = 6;             // WS2812 data in, through a 330 ohm resistor
const uint16_t STRIP_LEDS = 8;
const uint8_t STRIP_BRIGHTNESS = 64;     // of 255: a desk, and under 0.5 A from USB
const uint8_t LCD_ADDRESS = 0x27;        // 0x3F on some backpacks
const uint8_t BUTTON_PINS[3] = {2, 3, 4};  // LUNCH, CLOSED, AWAY: each to GND when pressed
const unsigned long BAUD = 9600;
const uint32_t DEBOUNCE_MS = 30;
const uint32_t ANSWER_SHOWN_MS = 2500;   // how long "OK" / "refused" stays on the LCD
#define PANEL_FRENCH 1                   // 1: texts in French, 0: in English

// -- what the LCD says ----------------------------------------------------------------------

struct Texts {
    const char *waiting;     // line 1: "<waiting> <longest>"
    const char *available;   // line 2: "<available> <mode>"
    const char *mode[4];     // AUTO, OPEN, LUNCH, CLOSED
    const char *button[3];   // LUNCH, CLOSED, AWAY
    const char *sending, *ok, *refused, *no_answer;
    const char *no_link, *no_link_2, *starting;
};

#if PANEL_FRENCH
const Texts TEXTS = {
    "Attente", "Dispo",
    {"AUTO", "OUVERT", "PAUSE", "FERME"},
    {"PAUSE", "FERME", "ABSENT"},
    "envoi...", "OK", "refuse", "non recu",
    "PAS DE LIEN", "avec frontdesk", "Connexion...",
};
#else
const Texts TEXTS = {
    "Waiting", "Free",
    {"AUTO", "OPEN", "LUNCH", "CLOSED"},
    {"LUNCH", "CLOSED", "AWAY"},
    "sending", "OK", "refused", "no answer",
    "NO LINK", "to frontdesk", "Connecting...",
};
#endif

const panel::Button BUTTONS[3] = {panel::BUTTON_LUNCH, panel::BUTTON_CLOSED, panel::BUTTON_AWAY};

Adafruit_NeoPixel strip(STRIP_LEDS, STRIP_PIN, NEO_GRB + NEO_KHZ800);
LiquidCrystal_I2C lcd(LCD_ADDRESS, 16, 2);
panel::Link desk_link;  // the protocol with the daemon

struct Debounced {
    bool reading;       // HIGH: released (pull-up)
    bool stable;
    uint32_t changed_at;
};
Debounced buttons[3];

int8_t last_button = -1;            // the last button pressed, for its answer on the LCD
panel::Answer shown_answer = panel::ANSWER_NONE;
uint32_t answer_at = 0;
char shown_lines[2][17];            // what the LCD shows now, to write only what changed
uint32_t shown_leds = 0xFFFFFFFF;   // a digest of what the strip shows now

// -- sending --------------------------------------------------------------------------------

void send_frames(uint32_t now) {
    char out[panel::FRAME_ROOM];
    size_t length;
    while ((length = desk_link.poll(now, out, sizeof out)) > 0) {
        Serial.write(reinterpret_cast<const uint8_t *>(out), length);
    }
}

// A press when the pin has been LOW for DEBOUNCE_MS after being HIGH.
void read_buttons(uint32_t now) {
    for (uint8_t i = 0; i < 3; i++) {
        bool reading = digitalRead(BUTTON_PINS[i]);
        Debounced &b = buttons[i];
        if (reading != b.reading) {
            b.reading = reading;
            b.changed_at = now;
        } else if (reading != b.stable && now - b.changed_at >= DEBOUNCE_MS) {
            b.stable = reading;
            if (reading == LOW) {
                char out[panel::FRAME_ROOM];
                size_t length = desk_link.press(BUTTONS[i], now, out, sizeof out);
                if (length > 0) {  // else: an earlier press still waits for its answer
                    Serial.write(reinterpret_cast<const uint8_t *>(out), length);
                    last_button = (int8_t)i;
                    shown_answer = panel::ANSWER_NONE;
                }
            }
        }
    }
}

// -- showing --------------------------------------------------------------------------------

// "mm:ss" of a wait in seconds, "99:59" at most (the LCD has room for five characters).
void format_wait(uint32_t seconds, char *out, size_t room) {
    if (seconds > 99UL * 60 + 59) seconds = 99UL * 60 + 59;
    snprintf(out, room, "%02u:%02u", (unsigned)(seconds / 60), (unsigned)(seconds % 60));
}

void show_line(uint8_t row, const char *text) {
    char padded[17];
    snprintf(padded, sizeof padded, "%-16s", text);
    if (strcmp(padded, shown_lines[row]) == 0) return;
    strcpy(shown_lines[row], padded);
    lcd.setCursor(0, row);
    lcd.print(padded);
}

void show_lcd(uint32_t now) {
    char line[2][17];
    if (!desk_link.linked(now)) {
        snprintf(line[0], sizeof line[0], "%s", TEXTS.no_link);
        snprintf(line[1], sizeof line[1], "%s", TEXTS.no_link_2);
    } else if (!desk_link.has_state()) {
        snprintf(line[0], sizeof line[0], "%s", TEXTS.starting);
        line[1][0] = '\0';
    } else {
        const panel::State &state = desk_link.state();
        char wait[6];
        format_wait(state.longest, wait, sizeof wait);
        snprintf(line[0], sizeof line[0], "%-8s%-3u%5s", TEXTS.waiting, (unsigned)state.waiting,
                 state.waiting ? wait : "");
        snprintf(line[1], sizeof line[1], "%-6s%-3u%7s", TEXTS.available,
                 (unsigned)state.available, TEXTS.mode[state.mode]);
    }
    if (last_button >= 0) {  // a press: line 2 tells how it went, for a moment
        const char *how = NULL;
        if (desk_link.pressing()) {
            how = TEXTS.sending;
        } else if (shown_answer != panel::ANSWER_NONE && now - answer_at < ANSWER_SHOWN_MS) {
            how = shown_answer == panel::ANSWER_OK   ? TEXTS.ok
                  : shown_answer == panel::ANSWER_NO ? TEXTS.refused
                                                     : TEXTS.no_answer;
        } else {
            last_button = -1;
        }
        if (how != NULL) snprintf(line[1], sizeof line[1], "%s %s", TEXTS.button[last_button], how);
    }
    show_line(0, line[0]);
    show_line(1, line[1]);
}

uint32_t level_colour(char level) {
    switch (level) {
        case 'R': return Adafruit_NeoPixel::Color(255, 0, 0);
        case 'A': return Adafruit_NeoPixel::Color(255, 110, 0);
        default: return Adafruit_NeoPixel::Color(0, 200, 0);
    }
}

// Linked: every LED in the colour of the level, one bright LED per waiting caller and the
// rest dim. No link: dark, the first LED blinking blue.
void show_leds(uint32_t now) {
    uint32_t digest;
    if (!desk_link.linked(now) || !desk_link.has_state()) {
        digest = 0x80000000UL | ((now / 500) & 1);
    } else {
        const panel::State &state = desk_link.state();
        digest = ((uint32_t)state.level << 16) | state.waiting;
    }
    if (digest == shown_leds) return;
    shown_leds = digest;
    strip.clear();
    if (digest & 0x80000000UL) {
        if (digest & 1) strip.setPixelColor(0, Adafruit_NeoPixel::Color(0, 0, 255));
    } else {
        const panel::State &state = desk_link.state();
        uint32_t bright = level_colour(state.level);
        uint32_t dim = Adafruit_NeoPixel::Color(((bright >> 16) & 0xFF) / 8,
                                                ((bright >> 8) & 0xFF) / 8, (bright & 0xFF) / 8);
        for (uint16_t i = 0; i < STRIP_LEDS; i++) {
            strip.setPixelColor(i, i < state.waiting ? bright : dim);
        }
    }
    strip.show();
}

// -- Arduino --------------------------------------------------------------------------------

void setup() {
    Serial.begin(BAUD);
    for (uint8_t i = 0; i < 3; i++) {
        pinMode(BUTTON_PINS[i], INPUT_PULLUP);
        buttons[i].reading = buttons[i].stable = HIGH;
        buttons[i].changed_at = 0;
    }
    strip.begin();
    strip.setBrightness(STRIP_BRIGHTNESS);
    strip.show();
    lcd.init();
    lcd.backlight();
    shown_lines[0][0] = shown_lines[1][0] = '\0';
}

void loop() {
    uint32_t now = millis();
    while (Serial.available() > 0) desk_link.receive((char)Serial.read(), now);
    panel::Answer answer = desk_link.take_answer();
    if (answer != panel::ANSWER_NONE) {
        shown_answer = answer;
        answer_at = now;
    }
    read_buttons(now);
    send_frames(now);
    show_lcd(now);
    show_leds(now);
}
