#include "agent/tail.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "agent/checkpoint.h"
#include "agent/session.h"
#include "agent/state_file.h"
#include "agent/tail_reader.h"

namespace scanwatch::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 100ms;
constexpr auto kAgeInterval = 1s;
constexpr auto kCheckpointInterval = 5s;

// The file outputs this run writes. After a crash they are cut back to their size at the
// checkpoint, so lines written after it are not there twice once the events are processed again.
std::vector<std::string> file_outputs(const Settings& s) {
    std::vector<std::string> out;
    for (const auto& spec : s.outputs) {
        if (spec.rfind("file:", 0) == 0) out.push_back(spec.substr(5));
    }
    if (!s.events.empty() && s.events != "-") out.push_back(s.events);
    return out;
}

class TailRunner {
public:
    TailRunner(const Settings& settings, int argc, const char* const* argv)
        : settings_(settings),
          argc_(argc),
          argv_(argv),
          state_(settings.state_file.empty() ? std::nullopt : read_state(settings.state_file)),
          truncated_(cut_outputs_back()),
          session_(settings, Input::tail),
          reader_(settings.tail_path),
          signals_(io_, SIGTERM, SIGINT, SIGHUP),
          poll_timer_(io_),
          age_timer_(io_),
          checkpoint_timer_(io_) {}

    int run() {
        signals_.add(SIGUSR1);
        if (state_) restore();

        std::string note;
        if (reader_.start(state_ ? std::optional<TailPosition>(state_->checkpoint.position) : std::nullopt,
                          !settings_.from_start, note)) {
            started_ = true;
            checkpointer_.begin_file(reader_.current_name(), reader_.position().file,
                                     reader_.position().offset);
        }
        if (!note.empty()) session_.diagnostics().warn(note);
        // A checkpoint before anything is read: a crash before the first periodic one must cut
        // the outputs back to what they held at start, and keep the events to skip.
        checkpoint();

        wait_signal();
        poll();
        arm_age_timer();
        arm_checkpoint_timer();
        io_.run();

        checkpoint();  // events in flight stay in flight: a restart reads them again
        session_.close();
        if (settings_.stats || !settings_.stats_file.empty()) session_.report_stats(settings_.stats);
        return 0;
    }

private:
    // Runs before the outputs are opened.
    bool cut_outputs_back() {
        if (!state_) return false;
        for (const auto& mark : state_->outputs) {
            struct stat st {};
            if (::stat(mark.path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > mark.size) {
                if (::truncate(mark.path.c_str(), static_cast<off_t>(mark.size)) != 0) {
                    throw std::runtime_error(fmt::format("cannot cut {} back to the checkpoint", mark.path));
                }
            }
        }
        return true;
    }

    void restore() {
        for (const auto& name : checkpointer_.restore(state_->checkpoint)) {
            session_.diagnostics().warn(fmt::format("the saved state of rule {} does not fit; it starts empty", name));
        }
    }

    void poll() {
        Pipeline& pipeline = session_.pipeline();
        const bool progress = reader_.poll(
            [&pipeline](std::string_view data, std::uint64_t) { pipeline.feed(data); },
            [this, &pipeline](const std::string& name, FileId id, std::string_view why) {
                if (id == FileId{}) {
                    session_.diagnostics().warn(fmt::format("{}: {}", name, why));
                    return;
                }
                started_ = true;
                checkpointer_.begin_file(name, id, reader_.position().offset);
                session_.diagnostics().warn(fmt::format("following {} ({})", name, why));
            });
        if (progress) session_.flush_outputs();  // buffered events reach shippers within a poll
        poll_timer_.expires_after(kPollInterval);
        poll_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !stopping_) poll();
        });
    }

    void checkpoint() {
        if (settings_.state_file.empty() || !started_) return;
        session_.flush_outputs();
        TailState s;
        s.checkpoint = checkpointer_.save();
        for (const auto& path : file_outputs(settings_)) {
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0) continue;
            s.outputs.push_back({path, {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)},
                                 static_cast<std::uint64_t>(st.st_size)});
        }
        std::string error;
        if (!write_state(settings_.state_file, s, error)) session_.diagnostics().warn(error);
    }

    void arm_checkpoint_timer() {
        checkpoint_timer_.expires_after(kCheckpointInterval);
        checkpoint_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping_) return;
            checkpoint();
            arm_checkpoint_timer();
        });
    }

    void arm_age_timer() {
        age_timer_.expires_after(kAgeInterval);
        age_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping_) return;
            session_.pipeline().age();
            arm_age_timer();
        });
    }

    void wait_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            switch (signo) {
                case SIGHUP: reload(); break;
                case SIGUSR1: session_.report_stats(true); break;
                default: stop(); return;
            }
            wait_signal();
        });
    }

    void reload() {
        std::string error;
        auto fresh = reparse_settings(argc_, argv_, error);
        if (!fresh) {
            session_.diagnostics().warn(
                fmt::format("reload failed, keeping the running configuration: {}", error));
            return;
        }
        if (session_.reload(*fresh)) session_.diagnostics().warn("configuration reloaded");
    }

    void stop() {
        stopping_ = true;
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        poll_timer_.cancel();
        age_timer_.cancel();
        checkpoint_timer_.cancel();
    }

    Settings settings_;
    int argc_;
    const char* const* argv_;
    std::optional<TailState> state_;
    bool truncated_;
    asio::io_context io_;
    Session session_;
    TailReader reader_;
    PipelineCheckpointer checkpointer_{session_.pipeline()};
    asio::signal_set signals_;
    asio::steady_timer poll_timer_;
    asio::steady_timer age_timer_;
    asio::steady_timer checkpoint_timer_;
    bool started_ = false;
    bool stopping_ = false;
};

}  // namespace

int run_tail(const Settings& settings, int argc, const char* const* argv) {
    ::signal(SIGPIPE, SIG_IGN);
    TailRunner runner(settings, argc, argv);
    return runner.run();
}

}  // namespace scanwatch::agent
