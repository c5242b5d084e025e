// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// libcryopod speaks D-Bus with sd-bus (libsystemd): one bus connection per
// call, no threads, no event loop. This file holds what sd-bus does not do
// for it: the RAII owners of its objects, and a D-Bus value of any type read
// from a message as a tree (the helper's Report, its Finished results), which
// the library looks into and hands to the caller as JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <systemd/sd-bus.h>
#include <vector>

namespace cryopod::lib
{

struct BusCloser {
    // Closes without flushing: in a restored copy the fd is a pipe.
    void operator()(sd_bus *bus) const
    {
        sd_bus_close_unref(bus);
    }
};
using Bus = std::unique_ptr<sd_bus, BusCloser>;

struct BusMessageUnref {
    void operator()(sd_bus_message *m) const
    {
        sd_bus_message_unref(m);
    }
};
using BusMessage = std::unique_ptr<sd_bus_message, BusMessageUnref>;

// An sd_bus_error freed when it goes out of scope.
struct BusError {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError &) = delete;
    BusError &operator=(const BusError &) = delete;
    ~BusError()
    {
        sd_bus_error_free(&error);
    }
    sd_bus_error *operator&()
    {
        return &error;
    }
};

// A D-Bus value of any type, as read from a message.
struct Value {
    std::string signature; // its complete type: "i", "a{sv}", "v", ...
    int64_t integer = 0; // y b n q i u x t h
    double number = 0; // d
    std::string text; // s o g
    std::vector<Value> items; // array elements, struct fields, the key and value of a dict entry, a variant's value

    // Looking into a{sv}: the (unwrapped) value of key, or null.
    const Value *find(const std::string &key) const;
    const Value &unwrapped() const; // the value inside variants
    std::string toJson() const;
};

// Reads the next complete type of `m` into `out`: < 0 (a negative errno) on
// failure.
int readValue(sd_bus_message *m, Value &out);

} // namespace cryopod::lib
