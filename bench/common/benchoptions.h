// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The command line of a bench and the start every bench shares: options
// registered with their help text and parsed once (a usage text made from
// them, -h/--help, an error naming a bad option or value), and the directory
// for its images.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace cryopod::bench
{
class OptionParser
{
public:
    // `synopsis`: one line of what the bench does, printed under the usage.
    OptionParser(std::string program, std::string synopsis);

    // --NAME sets *target to `value`.
    OptionParser &flag(const std::string &name, bool *target, bool value, const std::string &help);
    // --NAME METAVAR: a text, or an integer (decimal; out of T's range is an error).
    OptionParser &value(const std::string &name, const std::string &metavar, std::string *target, const std::string &help);
    template<typename T>
        requires std::is_integral_v<T>
    OptionParser &value(const std::string &name, const std::string &metavar, T *target, const std::string &help)
    {
        return add(name, metavar, help, [target](const std::string &text) {
            return parseInteger(text, std::is_signed_v<T> ? int64_t(std::numeric_limits<T>::min()) : 0, uint64_t(std::numeric_limits<T>::max()),
                                [target](int64_t v) { *target = T(v); });
        });
    }
    // --NAME METAVAR, repeatable: every value is appended.
    OptionParser &values(const std::string &name, const std::string &metavar, std::vector<uint64_t> *target, const std::string &help);

    // nullopt: go on; else what main returns (0 after --help, 2 after a bad
    // option or value, with the reason and the usage on stderr).
    std::optional<int> parse(int argc, char **argv) const;
    void usage(FILE *to) const;

private:
    struct Option {
        std::string name; // without the dashes
        std::string metavar; // empty: a flag
        std::string help;
        std::function<bool(const std::string &)> apply; // false: a bad value
    };
    OptionParser &add(const std::string &name, const std::string &metavar, const std::string &help, std::function<bool(const std::string &)> apply);
    static bool parseInteger(const std::string &text, int64_t min, uint64_t max, const std::function<void(int64_t)> &store);

    std::string m_program;
    std::string m_synopsis;
    std::vector<Option> m_options;
};

// A new directory `tmp`/`prefix`-XXXXXX for a bench's images and workload
// output; nullopt (with the reason on stderr) when it cannot be made.
std::optional<std::string> makeBenchDirectory(const std::string &tmp, const std::string &prefix);
} // namespace cryopod::bench
