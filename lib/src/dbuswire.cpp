// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "dbuswire.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace cryopod::lib
{

namespace
{

constexpr size_t kMaxMessage = 128u << 20; // the specification's limit
constexpr int kMaxDepth = 32;

size_t alignmentOf(char type)
{
    switch (type) {
    case 'y':
    case 'g':
    case 'v':
        return 1;
    case 'n':
    case 'q':
        return 2;
    case 'b':
    case 'i':
    case 'u':
    case 'h':
    case 's':
    case 'o':
    case 'a':
        return 4;
    default: // x t d ( {
        return 8;
    }
}

// The end (one past) of the complete type starting at sig[i], or npos.
size_t typeEnd(const std::string &sig, size_t i, int depth = 0)
{
    if (i >= sig.size() || depth > kMaxDepth) {
        return std::string::npos;
    }
    const char c = sig[i];
    if (c == 'a') {
        return typeEnd(sig, i + 1, depth + 1);
    }
    if (c == '(' || c == '{') {
        const char close = c == '(' ? ')' : '}';
        size_t j = i + 1;
        while (j < sig.size() && sig[j] != close) {
            j = typeEnd(sig, j, depth + 1);
            if (j == std::string::npos) {
                return j;
            }
        }
        return j < sig.size() ? j + 1 : std::string::npos;
    }
    if (std::strchr("ybnqiuxtdsoghv", c) == nullptr || c == '\0') {
        return std::string::npos;
    }
    return i + 1;
}

std::vector<std::string> splitTypes(const std::string &sig)
{
    std::vector<std::string> out;
    size_t i = 0;
    while (i < sig.size()) {
        const size_t end = typeEnd(sig, i);
        if (end == std::string::npos) {
            return {};
        }
        out.push_back(sig.substr(i, end - i));
        i = end;
    }
    return out;
}

// ---- writing

class Writer
{
public:
    std::string data;

    void align(size_t n)
    {
        while (data.size() % n) {
            data.push_back('\0');
        }
    }
    void raw(const void *p, size_t n)
    {
        data.append(static_cast<const char *>(p), n);
    }
    template<typename T>
    void put(T v)
    {
        align(sizeof(T));
        raw(&v, sizeof v);
    }
    void putString(const std::string &s, bool signature)
    {
        if (signature) {
            put(uint8_t(s.size()));
        } else {
            put(uint32_t(s.size()));
        }
        raw(s.data(), s.size());
        data.push_back('\0');
    }
    void value(const Value &v)
    {
        const std::string &sig = v.signature;
        switch (sig[0]) {
        case 'y':
            put(uint8_t(v.integer));
            break;
        case 'b':
            put(uint32_t(v.integer != 0));
            break;
        case 'n':
            put(int16_t(v.integer));
            break;
        case 'q':
            put(uint16_t(v.integer));
            break;
        case 'i':
            put(int32_t(v.integer));
            break;
        case 'u':
        case 'h':
            put(uint32_t(v.integer));
            break;
        case 'x':
            put(int64_t(v.integer));
            break;
        case 't':
            put(uint64_t(v.integer));
            break;
        case 'd':
            put(v.number);
            break;
        case 's':
        case 'o':
            putString(v.text, false);
            break;
        case 'g':
            putString(v.text, true);
            break;
        case 'v':
            putString(v.items.at(0).signature, true);
            value(v.items.at(0));
            break;
        case 'a': {
            put(uint32_t(0));
            const size_t lengthAt = data.size() - 4;
            align(alignmentOf(sig[1]));
            const size_t start = data.size();
            for (const Value &item : v.items) {
                value(item);
            }
            const uint32_t length = uint32_t(data.size() - start);
            std::memcpy(&data[lengthAt], &length, 4);
            break;
        }
        case '(':
        case '{':
            align(8);
            for (const Value &item : v.items) {
                value(item);
            }
            break;
        }
    }
};

// ---- reading

class Reader
{
public:
    Reader(const std::string &data, size_t pos, size_t end)
        : m_data(data)
        , m_pos(pos)
        , m_end(end)
    {
    }
    size_t pos() const
    {
        return m_pos;
    }
    bool align(size_t n)
    {
        while (m_pos % n) {
            if (m_pos >= m_end) {
                return false;
            }
            ++m_pos;
        }
        return m_pos <= m_end;
    }
    template<typename T>
    bool get(T &out)
    {
        if (!align(sizeof(T)) || m_end - m_pos < sizeof(T)) {
            return false;
        }
        std::memcpy(&out, m_data.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return true;
    }
    bool getString(std::string &out, bool signature)
    {
        uint32_t length = 0;
        if (signature) {
            uint8_t l = 0;
            if (!get(l)) {
                return false;
            }
            length = l;
        } else if (!get(length)) {
            return false;
        }
        if (m_end - m_pos < size_t(length) + 1) {
            return false;
        }
        out.assign(m_data.data() + m_pos, length);
        m_pos += size_t(length) + 1;
        return true;
    }
    bool value(const std::string &sig, Value &out, int depth = 0)
    {
        if (sig.empty() || depth > kMaxDepth) {
            return false;
        }
        out.signature = sig;
        switch (sig[0]) {
        case 'y': {
            uint8_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 'b':
        case 'u':
        case 'h': {
            uint32_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 'n': {
            int16_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 'q': {
            uint16_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 'i': {
            int32_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 'x': {
            int64_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = v;
            return true;
        }
        case 't': {
            uint64_t v = 0;
            if (!get(v)) {
                return false;
            }
            out.integer = int64_t(v);
            return true;
        }
        case 'd':
            return get(out.number);
        case 's':
        case 'o':
            return getString(out.text, false);
        case 'g':
            return getString(out.text, true);
        case 'v': {
            std::string inner;
            if (!getString(inner, true) || typeEnd(inner, 0) != inner.size()) {
                return false;
            }
            out.items.emplace_back();
            return value(inner, out.items.back(), depth + 1);
        }
        case 'a': {
            uint32_t length = 0;
            if (!get(length) || !align(alignmentOf(sig[1])) || m_end - m_pos < length) {
                return false;
            }
            const size_t end = m_pos + length;
            const std::string element = sig.substr(1);
            while (m_pos < end) {
                out.items.emplace_back();
                if (!value(element, out.items.back(), depth + 1)) {
                    return false;
                }
            }
            return m_pos == end;
        }
        case '(':
        case '{': {
            if (!align(8)) {
                return false;
            }
            for (const std::string &field : splitTypes(sig.substr(1, sig.size() - 2))) {
                out.items.emplace_back();
                if (!value(field, out.items.back(), depth + 1)) {
                    return false;
                }
            }
            return true;
        }
        default:
            return false;
        }
    }

private:
    const std::string &m_data;
    size_t m_pos;
    size_t m_end;
};

void jsonString(std::string &out, const std::string &s)
{
    out.push_back('"');
    for (const unsigned char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out.push_back(char(c));
            }
        }
    }
    out.push_back('"');
}

void json(std::string &out, const Value &v)
{
    switch (v.signature[0]) {
    case 'b':
        out += v.integer ? "true" : "false";
        return;
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'h':
    case 'x':
        out += std::to_string(v.integer);
        return;
    case 't':
        out += std::to_string(uint64_t(v.integer));
        return;
    case 'd': {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.number);
        out += buf;
        return;
    }
    case 's':
    case 'o':
    case 'g':
        jsonString(out, v.text);
        return;
    case 'v':
        json(out, v.items.at(0));
        return;
    case 'a':
        if (v.signature[1] == '{') {
            out.push_back('{');
            for (size_t i = 0; i < v.items.size(); ++i) {
                const Value &entry = v.items[i];
                if (i) {
                    out.push_back(',');
                }
                const Value &key = entry.items.at(0);
                if (key.signature == "s" || key.signature == "o" || key.signature == "g") {
                    jsonString(out, key.text);
                } else {
                    jsonString(out, std::to_string(key.integer));
                }
                out.push_back(':');
                json(out, entry.items.at(1));
            }
            out.push_back('}');
            return;
        }
        [[fallthrough]];
    default: // arrays and structs
        out.push_back('[');
        for (size_t i = 0; i < v.items.size(); ++i) {
            if (i) {
                out.push_back(',');
            }
            json(out, v.items[i]);
        }
        out.push_back(']');
    }
}

enum HeaderField : uint8_t { Path = 1, Interface = 2, Member = 3, ErrorName = 4, ReplySerial = 5, Destination = 6, Sender = 7, Signature = 8, UnixFds = 9 };

} // namespace

// ---- Value

Value Value::boolean(bool b)
{
    Value v;
    v.signature = "b";
    v.integer = b;
    return v;
}

Value Value::int32(int32_t i)
{
    Value v;
    v.signature = "i";
    v.integer = i;
    return v;
}

Value Value::uint32(uint32_t u)
{
    Value v;
    v.signature = "u";
    v.integer = u;
    return v;
}

Value Value::string(std::string s, char type)
{
    Value v;
    v.signature = std::string(1, type);
    v.text = std::move(s);
    return v;
}

Value Value::fd(uint32_t index)
{
    Value v;
    v.signature = "h";
    v.integer = index;
    return v;
}

Value Value::variant(Value inner)
{
    Value v;
    v.signature = "v";
    v.items.push_back(std::move(inner));
    return v;
}

Value Value::dict(std::vector<std::pair<std::string, Value>> entries)
{
    Value v;
    v.signature = "a{sv}";
    for (auto &[key, value] : entries) {
        Value entry;
        entry.signature = "{sv}";
        entry.items.push_back(Value::string(key));
        entry.items.push_back(Value::variant(std::move(value)));
        v.items.push_back(std::move(entry));
    }
    return v;
}

Value Value::array(std::string elementSignature, std::vector<Value> items)
{
    Value v;
    v.signature = "a" + elementSignature;
    v.items = std::move(items);
    return v;
}

const Value *Value::find(const std::string &key) const
{
    const Value &self = unwrapped();
    if (self.signature.rfind("a{s", 0) != 0) {
        return nullptr;
    }
    for (const Value &entry : self.items) {
        if (entry.items.size() == 2 && entry.items[0].text == key) {
            return &entry.items[1].unwrapped();
        }
    }
    return nullptr;
}

const Value &Value::unwrapped() const
{
    const Value *v = this;
    while (v->signature == "v" && !v->items.empty()) {
        v = &v->items[0];
    }
    return *v;
}

std::string Value::toJson() const
{
    std::string out;
    json(out, *this);
    return out;
}

// ---- Message

std::string Message::bodySignature() const
{
    std::string sig;
    for (const Value &v : body) {
        sig += v.signature;
    }
    return sig;
}

std::string Message::firstString() const
{
    if (!body.empty() && body[0].signature == "s") {
        return body[0].text;
    }
    return {};
}

std::string encodeMessage(const Message &m)
{
    Writer body;
    for (const Value &v : m.body) {
        body.value(v);
    }
    std::vector<Value> fields;
    auto field = [&](uint8_t code, Value value) {
        Value f;
        f.signature = "(yv)";
        Value c;
        c.signature = "y";
        c.integer = code;
        f.items.push_back(c);
        f.items.push_back(Value::variant(std::move(value)));
        fields.push_back(std::move(f));
    };
    if (!m.path.empty()) {
        field(Path, Value::string(m.path, 'o'));
    }
    if (!m.interface.empty()) {
        field(Interface, Value::string(m.interface));
    }
    if (!m.member.empty()) {
        field(Member, Value::string(m.member));
    }
    if (!m.destination.empty()) {
        field(Destination, Value::string(m.destination));
    }
    if (!m.body.empty()) {
        field(Signature, Value::string(m.bodySignature(), 'g'));
    }
    if (m.unixFds) {
        field(UnixFds, Value::uint32(m.unixFds));
    }
    Writer w;
    w.put(uint8_t('l'));
    w.put(uint8_t(m.type));
    w.put(m.flags);
    w.put(uint8_t(1));
    w.put(uint32_t(body.data.size()));
    w.put(m.serial);
    w.value(Value::array("(yv)", std::move(fields)));
    w.align(8);
    w.data += body.data;
    return w.data;
}

size_t messageLength(const std::string &data)
{
    if (data.size() < 16) {
        return 0;
    }
    if (data[0] != 'l') {
        return SIZE_MAX; // big-endian peers: not on this machine's bus
    }
    uint32_t bodyLength = 0, fieldsLength = 0;
    std::memcpy(&bodyLength, data.data() + 4, 4);
    std::memcpy(&fieldsLength, data.data() + 12, 4);
    const size_t headerEnd = (16 + size_t(fieldsLength) + 7) & ~size_t(7);
    const size_t total = headerEnd + bodyLength;
    return total > kMaxMessage ? SIZE_MAX : total;
}

std::optional<Message> decodeMessage(const std::string &data)
{
    const size_t total = messageLength(data);
    if (total == 0 || total == SIZE_MAX || data.size() < total) {
        return std::nullopt;
    }
    Message m;
    m.type = Message::Type(uint8_t(data[1]));
    m.flags = uint8_t(data[2]);
    std::memcpy(&m.serial, data.data() + 8, 4);
    Reader header(data, 12, total);
    Value fields;
    if (!header.value("a(yv)", fields) || !header.align(8)) {
        return std::nullopt;
    }
    std::string signature;
    for (const Value &f : fields.items) {
        const Value &v = f.items.at(1).unwrapped();
        switch (f.items.at(0).integer) {
        case Path:
            m.path = v.text;
            break;
        case Interface:
            m.interface = v.text;
            break;
        case Member:
            m.member = v.text;
            break;
        case ErrorName:
            m.errorName = v.text;
            break;
        case ReplySerial:
            m.replySerial = uint32_t(v.integer);
            break;
        case Destination:
            m.destination = v.text;
            break;
        case Sender:
            m.sender = v.text;
            break;
        case Signature:
            signature = v.text;
            break;
        case UnixFds:
            m.unixFds = uint32_t(v.integer);
            break;
        default:
            break;
        }
    }
    Reader body(data, header.pos(), total);
    const std::vector<std::string> types = splitTypes(signature);
    if (!signature.empty() && types.empty()) {
        return std::nullopt;
    }
    for (const std::string &type : types) {
        m.body.emplace_back();
        if (!body.value(type, m.body.back())) {
            return std::nullopt;
        }
    }
    return m;
}

// ---- BusConnection

BusConnection::BusConnection(int fd)
    : m_fd(fd)
{
}

BusConnection::~BusConnection()
{
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

void BusConnection::abandon()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
}

namespace
{

// "unix:path=/x" (percent-escaped) or "unix:abstract=x" of the first
// usable entry of a D-Bus address.
bool parseAddress(const std::string &address, sockaddr_un &sa, socklen_t &length, std::string &error)
{
    size_t start = 0;
    while (start <= address.size()) {
        const size_t end = std::min(address.find(';', start), address.size());
        const std::string entry = address.substr(start, end - start);
        start = end + 1;
        if (entry.rfind("unix:", 0) != 0) {
            continue;
        }
        size_t p = 5;
        while (p < entry.size()) {
            const size_t comma = std::min(entry.find(',', p), entry.size());
            const std::string kv = entry.substr(p, comma - p);
            p = comma + 1;
            const size_t eq = kv.find('=');
            if (eq == std::string::npos) {
                continue;
            }
            const std::string key = kv.substr(0, eq);
            std::string value;
            for (size_t i = eq + 1; i < kv.size(); ++i) {
                if (kv[i] == '%' && i + 2 < kv.size()) {
                    value.push_back(char(std::strtol(kv.substr(i + 1, 2).c_str(), nullptr, 16)));
                    i += 2;
                } else {
                    value.push_back(kv[i]);
                }
            }
            if ((key == "path" || key == "abstract") && value.size() < sizeof sa.sun_path - 1) {
                sa = {};
                sa.sun_family = AF_UNIX;
                const size_t offset = key == "abstract" ? 1 : 0;
                std::memcpy(sa.sun_path + offset, value.data(), value.size());
                length = socklen_t(offsetof(sockaddr_un, sun_path) + offset + value.size() + (offset ? 0 : 1));
                return true;
            }
        }
    }
    error = "no usable unix socket in the bus address '" + address + "'";
    errno = EINVAL;
    return false;
}

bool writeAll(int fd, const std::string &data)
{
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        done += size_t(n);
    }
    return true;
}

} // namespace

std::unique_ptr<BusConnection> BusConnection::connectSystem(std::string &error)
{
    const char *env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    const std::string address = env && *env ? env : "unix:path=/var/run/dbus/system_bus_socket";
    sockaddr_un sa {};
    socklen_t length = 0;
    if (!parseAddress(address, sa, length, error)) {
        return nullptr;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return nullptr;
    }
    std::unique_ptr<BusConnection> bus(new BusConnection(fd));
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&sa), length);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const int err = errno;
        error = "cannot connect to the system bus (" + address + "): " + std::strerror(err);
        errno = err;
        return nullptr;
    }
    if (!bus->authenticate(error)) {
        return nullptr;
    }
    Message hello;
    hello.type = Message::MethodCall;
    hello.destination = "org.freedesktop.DBus";
    hello.path = "/org/freedesktop/DBus";
    hello.interface = "org.freedesktop.DBus";
    hello.member = "Hello";
    const uint32_t serial = bus->send(hello);
    auto reply = serial ? bus->waitReply(serial) : std::nullopt;
    if (!reply || reply->type != Message::MethodReturn) {
        const int err = errno ? errno : ECONNREFUSED;
        error = "the system bus did not accept the connection (Hello)";
        errno = err;
        return nullptr;
    }
    return bus;
}

bool BusConnection::authenticate(std::string &error)
{
    auto fail = [&](const std::string &why, int err) {
        error = "system bus authentication: " + why;
        errno = err;
        return false;
    };
    char uid[32];
    std::snprintf(uid, sizeof uid, "%u", unsigned(::geteuid()));
    std::string hex;
    for (const char *c = uid; *c; ++c) {
        char b[8];
        std::snprintf(b, sizeof b, "%02x", unsigned(static_cast<unsigned char>(*c)));
        hex += b;
    }
    auto line = [&](std::string &out) {
        out.clear();
        for (;;) {
            const size_t nl = m_in.find("\r\n");
            if (nl != std::string::npos) {
                out = m_in.substr(0, nl);
                m_in.erase(0, nl + 2);
                return true;
            }
            char buf[256];
            const ssize_t n = ::read(m_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            m_in.append(buf, size_t(n));
        }
    };
    if (!writeAll(m_fd, std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n")) {
        return fail(std::strerror(errno), errno);
    }
    std::string answer;
    if (!line(answer) || answer.rfind("OK ", 0) != 0) {
        return fail("refused (" + answer + ")", EACCES);
    }
    if (!writeAll(m_fd, "NEGOTIATE_UNIX_FD\r\n") || !line(answer)) {
        return fail("no answer to NEGOTIATE_UNIX_FD", ECONNRESET);
    }
    if (answer.rfind("AGREE_UNIX_FD", 0) != 0) {
        return fail("the bus cannot pass file descriptors (" + answer + ")", ENOTSUP);
    }
    if (!writeAll(m_fd, "BEGIN\r\n")) {
        return fail(std::strerror(errno), errno);
    }
    return true;
}

uint32_t BusConnection::send(Message message, int passFd)
{
    message.serial = ++m_serial;
    message.unixFds = passFd >= 0 ? 1 : 0;
    const std::string data = encodeMessage(message);
    if (passFd < 0) {
        return writeAll(m_fd, data) ? message.serial : 0;
    }
    iovec iov {const_cast<char *>(data.data()), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &passFd, sizeof(int));
    ssize_t n;
    do {
        n = ::sendmsg(m_fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return 0;
    }
    // The fd went with the first byte; the rest is plain data.
    if (size_t(n) < data.size() && !writeAll(m_fd, data.substr(size_t(n)))) {
        return 0;
    }
    return message.serial;
}

std::optional<Message> BusConnection::readMessage()
{
    for (;;) {
        const size_t length = messageLength(m_in);
        if (length == SIZE_MAX) {
            m_endErrno = EPROTO;
            return std::nullopt;
        }
        if (length && m_in.size() >= length) {
            auto message = decodeMessage(m_in);
            m_in.erase(0, length);
            if (!message) {
                m_endErrno = EPROTO;
                return std::nullopt;
            }
            return message;
        }
        if (m_fd < 0) {
            m_endErrno = EBADF;
            return std::nullopt;
        }
        // A plain read(): the system call a checkpoint of this process finds
        // the thread in, and restarts in the copy (where the fd is a pipe).
        char buf[16384];
        const ssize_t n = ::read(m_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            m_endErrno = n == 0 ? 0 : errno;
            return std::nullopt;
        }
        m_in.append(buf, size_t(n));
    }
}

std::optional<Message> BusConnection::next()
{
    if (!m_queued.empty()) {
        Message m = std::move(m_queued.front());
        m_queued.pop_front();
        return m;
    }
    return readMessage();
}

std::optional<Message> BusConnection::waitReply(uint32_t serial)
{
    for (;;) {
        auto m = readMessage();
        if (!m) {
            return std::nullopt;
        }
        if ((m->type == Message::MethodReturn || m->type == Message::Error) && m->replySerial == serial) {
            return m;
        }
        m_queued.push_back(std::move(*m));
    }
}

} // namespace cryopod::lib
