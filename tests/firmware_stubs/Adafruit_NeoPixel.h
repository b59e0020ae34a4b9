// A stand-in for the Adafruit NeoPixel library's header: the part of its API the sketch uses,
// declared only, so that tests/test_firmware_protocol.py can compile the sketch for the
// ATmega328P where the library itself is not installed. Not the library.
#pragma once
#include <Arduino.h>

typedef uint16_t neoPixelType;
#define NEO_GRB ((1 << 6) | (1 << 4) | (0 << 2) | (2))
#define NEO_KHZ800 0x0000

class Adafruit_NeoPixel {
public:
    Adafruit_NeoPixel(uint16_t n, int16_t pin, neoPixelType type);
    void begin(void);
    void show(void);
    void clear(void);
    void setBrightness(uint8_t brightness);
    void setPixelColor(uint16_t n, uint32_t c);
    static uint32_t Color(uint8_t r, uint8_t g, uint8_t b);
};
