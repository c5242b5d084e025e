// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "benchoptions.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdlib.h>

namespace cryopod::bench
{
OptionParser::OptionParser(std::string program, std::string synopsis)
    : m_program(std::move(program))
    , m_synopsis(std::move(synopsis))
{
}

OptionParser &OptionParser::add(const std::string &name, const std::string &metavar, const std::string &help, std::function<bool(const std::string &)> apply)
{
    m_options.push_back(Option {name, metavar, help, std::move(apply)});
    return *this;
}

OptionParser &OptionParser::flag(const std::string &name, bool *target, bool value, const std::string &help)
{
    return add(name, {}, help, [target, value](const std::string &) {
        *target = value;
        return true;
    });
}

OptionParser &OptionParser::value(const std::string &name, const std::string &metavar, std::string *target, const std::string &help)
{
    return add(name, metavar, help, [target](const std::string &text) {
        *target = text;
        return true;
    });
}

OptionParser &OptionParser::values(const std::string &name, const std::string &metavar, std::vector<uint64_t> *target, const std::string &help)
{
    return add(name, metavar, help, [target](const std::string &text) {
        return parseInteger(text, 0, std::numeric_limits<uint64_t>::max(), [target](int64_t v) { target->push_back(uint64_t(v)); });
    });
}

bool OptionParser::parseInteger(const std::string &text, int64_t min, uint64_t max, const std::function<void(int64_t)> &store)
{
    if (text.empty()) {
        return false;
    }
    char *end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < min || (v > 0 && uint64_t(v) > max)) {
        return false;
    }
    store(v);
    return true;
}

std::optional<int> OptionParser::parse(int argc, char **argv) const
{
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(stdout);
            return 0;
        }
        const Option *option = nullptr;
        for (const Option &o : m_options) {
            if (arg == "--" + o.name) {
                option = &o;
            }
        }
        if (!option) {
            std::fprintf(stderr, "%s: unknown option %s\n", m_program.c_str(), arg.c_str());
            usage(stderr);
            return 2;
        }
        std::string text;
        if (!option->metavar.empty()) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s: %s needs a value (%s)\n", m_program.c_str(), arg.c_str(), option->metavar.c_str());
                usage(stderr);
                return 2;
            }
            text = argv[++i];
        }
        if (!option->apply(text)) {
            std::fprintf(stderr, "%s: %s: bad value \"%s\"\n", m_program.c_str(), arg.c_str(), text.c_str());
            usage(stderr);
            return 2;
        }
    }
    return std::nullopt;
}

void OptionParser::usage(FILE *to) const
{
    std::string line = "usage: " + m_program;
    for (const Option &o : m_options) {
        line += " [--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar) + "]";
    }
    std::fprintf(to, "%s\n%s\n", line.c_str(), m_synopsis.c_str());
    for (const Option &o : m_options) {
        const std::string left = "--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
        std::fprintf(to, "  %-20s %s\n", left.c_str(), o.help.c_str());
    }
}

std::optional<std::string> makeBenchDirectory(const std::string &tmp, const std::string &prefix)
{
    std::string dir = tmp + "/" + prefix + "-XXXXXX";
    if (!mkdtemp(dir.data())) {
        std::fprintf(stderr, "make a directory in %s for the images: %s\n", tmp.c_str(), std::strerror(errno));
        return std::nullopt;
    }
    return dir;
}
} // namespace cryopod::bench
