// Minimal leveled logging to stderr. Library code logs sparingly; the CLI and
// server decide the level.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <utility>

namespace glint {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

LogLevel GetLogLevel();
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, const std::string& line);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace glint

#define LOG_DEBUG(...) ::glint::Log(::glint::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ::glint::Log(::glint::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARNING(...) ::glint::Log(::glint::LogLevel::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) ::glint::Log(::glint::LogLevel::kError, __VA_ARGS__)
