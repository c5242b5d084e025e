// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A small D-Bus client for libcryopod, on the wire protocol itself: one
// blocking unix socket, no threads, no event loop, no library. Programs that
// checkpoint themselves need exactly that: the calling thread waits for the
// helper's answer in a plain read() on the socket, which the engine restores
// (and which, in the restored copy, reads end-of-file from the hung-up pipe
// the socket became). Only what libcryopod sends and receives: little-endian
// messages, the basic types, arrays, structs, dict entries and variants.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cryopod::lib
{

// A D-Bus value of any type, as read from a message (or built to send).
struct Value {
    std::string signature; // its complete type: "i", "a{sv}", "v", ...
    int64_t integer = 0; // y b n q i u x t h (h: the fd index)
    double number = 0; // d
    std::string text; // s o g
    std::vector<Value> items; // array elements, struct fields, the key and value of a dict entry, a variant's value

    static Value boolean(bool b);
    static Value int32(int32_t i);
    static Value uint32(uint32_t u);
    static Value string(std::string s, char type = 's');
    static Value fd(uint32_t index); // h
    static Value variant(Value inner);
    // a{sv} from (key, value) pairs; each value is wrapped in a variant.
    static Value dict(std::vector<std::pair<std::string, Value>> entries);
    static Value array(std::string elementSignature, std::vector<Value> items);

    // Looking into a{sv}: the (unwrapped) value of key, or null.
    const Value *find(const std::string &key) const;
    const Value &unwrapped() const; // the value inside variants
    std::string toJson() const;
};

struct Message {
    enum Type : uint8_t { Invalid = 0, MethodCall = 1, MethodReturn = 2, Error = 3, Signal = 4 };
    Type type = Invalid;
    uint8_t flags = 0;
    uint32_t serial = 0;
    std::string path, interface, member, errorName, destination, sender;
    uint32_t replySerial = 0;
    uint32_t unixFds = 0;
    std::vector<Value> body; // one Value per complete type of the signature

    std::string bodySignature() const;
    // The first string argument (an error's message), or "".
    std::string firstString() const;
};

// Encodes a message (little endian); serial must be set.
std::string encodeMessage(const Message &message);
// Decodes one complete message from data (which holds at least its length):
// nullopt when it is malformed.
std::optional<Message> decodeMessage(const std::string &data);
// The length of the message at the start of data once 16 bytes are there,
// or 0 while fewer are; SIZE_MAX when the header is unusable.
size_t messageLength(const std::string &data);

// A connection to a bus (the system bus: $DBUS_SYSTEM_BUS_ADDRESS, else
// unix:path=/var/run/dbus/system_bus_socket), authenticated (EXTERNAL, unix
// fds negotiated) and registered (Hello).
class BusConnection
{
public:
    ~BusConnection();
    BusConnection(const BusConnection &) = delete;
    BusConnection &operator=(const BusConnection &) = delete;

    // errno set and `error` filled on failure.
    static std::unique_ptr<BusConnection> connectSystem(std::string &error);

    int fd() const
    {
        return m_fd;
    }
    // Sends a method call (with `passFd` as its only unix fd when >= 0) and
    // returns its serial; 0 and errno on failure.
    uint32_t send(Message message, int passFd = -1);
    // The reply (or error) to `serial`; other messages meanwhile are queued.
    // nullopt: the connection ended (see ended()).
    std::optional<Message> waitReply(uint32_t serial);
    // The next message: a queued one first, else one read from the socket
    // (blocking in read()). nullopt: the connection ended.
    std::optional<Message> next();
    // Why the last read ended: 0 for end-of-file, else the errno.
    int endedErrno() const
    {
        return m_endErrno;
    }
    // Closes the socket without saying anything (in a restored copy its fd
    // is a pipe).
    void abandon();

private:
    explicit BusConnection(int fd);
    bool authenticate(std::string &error);
    std::optional<Message> readMessage();

    int m_fd = -1;
    uint32_t m_serial = 0;
    std::string m_in;
    std::deque<Message> m_queued;
    int m_endErrno = 0;
};

} // namespace cryopod::lib
