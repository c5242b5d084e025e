// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "busvalue.h"

#include <cerrno>
#include <cstdio>

namespace cryopod::lib
{

namespace
{

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

// The basic value of `type` at the read position.
int readBasic(sd_bus_message *m, char type, Value &out)
{
    out.signature = std::string(1, type);
    union {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
        int h;
    } v {};
    const int r = sd_bus_message_read_basic(m, type, &v);
    if (r <= 0) {
        return r < 0 ? r : -EBADMSG;
    }
    switch (type) {
    case SD_BUS_TYPE_BYTE:
        out.integer = v.y;
        break;
    case SD_BUS_TYPE_BOOLEAN:
        out.integer = v.b != 0;
        break;
    case SD_BUS_TYPE_INT16:
        out.integer = v.n;
        break;
    case SD_BUS_TYPE_UINT16:
        out.integer = v.q;
        break;
    case SD_BUS_TYPE_INT32:
        out.integer = v.i;
        break;
    case SD_BUS_TYPE_UINT32:
        out.integer = v.u;
        break;
    case SD_BUS_TYPE_INT64:
        out.integer = v.x;
        break;
    case SD_BUS_TYPE_UINT64:
        out.integer = int64_t(v.t);
        break;
    case SD_BUS_TYPE_UNIX_FD:
        out.integer = v.h;
        break;
    case SD_BUS_TYPE_DOUBLE:
        out.number = v.d;
        break;
    case SD_BUS_TYPE_STRING:
    case SD_BUS_TYPE_OBJECT_PATH:
    case SD_BUS_TYPE_SIGNATURE:
        out.text = v.s ? v.s : "";
        break;
    default:
        return -EBADMSG;
    }
    return 1;
}

} // namespace

int readValue(sd_bus_message *m, Value &out)
{
    char type = 0;
    const char *contents = nullptr;
    int r = sd_bus_message_peek_type(m, &type, &contents);
    if (r <= 0) {
        return r < 0 ? r : -EBADMSG;
    }
    const std::string inner = contents ? contents : "";
    switch (type) {
    case SD_BUS_TYPE_ARRAY:
        out.signature = "a" + inner;
        break;
    case SD_BUS_TYPE_VARIANT:
        out.signature = "v";
        break;
    case SD_BUS_TYPE_STRUCT:
        out.signature = "(" + inner + ")";
        break;
    case SD_BUS_TYPE_DICT_ENTRY:
        out.signature = "{" + inner + "}";
        break;
    default:
        return readBasic(m, type, out);
    }
    r = sd_bus_message_enter_container(m, type, contents);
    if (r <= 0) {
        return r < 0 ? r : -EBADMSG;
    }
    while ((r = sd_bus_message_at_end(m, false)) == 0) {
        Value item;
        r = readValue(m, item);
        if (r < 0) {
            return r;
        }
        out.items.push_back(std::move(item));
    }
    if (r < 0) {
        return r;
    }
    r = sd_bus_message_exit_container(m);
    return r < 0 ? r : 1;
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

} // namespace cryopod::lib
