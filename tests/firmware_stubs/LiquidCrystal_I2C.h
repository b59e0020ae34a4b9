// A stand-in for the header of the "LiquidCrystal I2C" library (Frank de Brabander, 1.1.x):
// the part of its API the sketch uses, declared only, so that tests/test_firmware_protocol.py
// can compile the sketch for the ATmega328P where the library is not installed. Not the
// library.
#pragma once
#include <Arduino.h>
#include <Print.h>

class LiquidCrystal_I2C : public Print {
public:
    LiquidCrystal_I2C(uint8_t lcd_Addr, uint8_t lcd_cols, uint8_t lcd_rows);
    void init();
    void backlight();
    void setCursor(uint8_t col, uint8_t row);
    virtual size_t write(uint8_t);
};
