#include "agent/outputs/output_relp.h"

// librelp.h declares C functions without extern "C".
extern "C" {
#include <librelp.h>
}
#include <sys/socket.h>

#include <fmt/format.h>

#include "agent/outputs/output_syslog.h"

namespace scanwatch::agent {
namespace {

// Seconds librelp waits for a connection, and for an acknowledgement when the window is full.
constexpr int kConnectTimeout = 3;
constexpr unsigned kAckTimeout = 5;

void quiet(char*, ...) {}

unsigned char* bytes(const std::string& s) {
    return reinterpret_cast<unsigned char*>(const_cast<char*>(s.c_str()));
}

}  // namespace

RelpOutput::RelpOutput(OutputSpec target, std::string hostname, long pid)
    : Output(target.text, target.backlog),
      target_(std::move(target)),
      hostname_(std::move(hostname)),
      pid_(pid) {}

RelpOutput::~RelpOutput() {
    disconnect();
    if (engine_ != nullptr) relpEngineDestruct(&engine_);
}

bool RelpOutput::connect(std::string& error) {
    if (engine_ == nullptr) {
        if (relpEngineConstruct(&engine_) != RELP_RET_OK) {
            engine_ = nullptr;
            error = "cannot start librelp";
            return false;
        }
        relpEngineSetDbgprint(engine_, quiet);
        std::string syslog_cmd = "syslog";
        relpEngineSetEnableCmd(engine_, bytes(syslog_cmd), eRelpCmdState_Required);
    }
    if (relpEngineCltConstruct(engine_, &client_) != RELP_RET_OK) {
        client_ = nullptr;
        error = "cannot make a librelp client";
        return false;
    }
    relpCltSetTimeout(client_, kAckTimeout);
    relpCltSetConnTimeout(client_, kConnectTimeout);
    relpCltSetWindowSize(client_, static_cast<int>(kRelpWindow));
    const std::string port = std::to_string(target_.port);
    const relpRetVal rc = relpCltConnect(client_, AF_UNSPEC, bytes(port), bytes(target_.host));
    if (rc != RELP_RET_OK) {
        error = fmt::format("cannot open a RELP session to {}:{} (librelp error {})", target_.host,
                            port, rc);
        disconnect();
        return false;
    }
    // The acknowledgements of the last messages of a broken session may never have come: send
    // them again (at least once; docs/outputs.md).
    for (const auto& message : unconfirmed_) {
        if (relpCltSendSyslog(client_, bytes(message), message.size()) != RELP_RET_OK) {
            error = fmt::format("the RELP session to {}:{} broke while resending", target_.host, port);
            disconnect();
            return false;
        }
    }
    return true;
}

void RelpOutput::disconnect() {
    if (client_ != nullptr) relpEngineCltDestruct(engine_, &client_);
    client_ = nullptr;
}

WriteResult RelpOutput::write(std::string_view line, std::chrono::system_clock::time_point time,
                              std::string& error) {
    if (client_ == nullptr && !connect(error)) return WriteResult::failed;
    const int pri = syslog_pri(target_.facility, syslog_severity(alert_rule_severity(line)));
    std::string message = format_rfc5424(pri, time, hostname_, pid_, line);
    if (relpCltSendSyslog(client_, bytes(message), message.size()) != RELP_RET_OK) {
        error = fmt::format("the RELP session to {}:{} broke or was not acknowledged in {} s",
                            target_.host, target_.port, kAckTimeout);
        disconnect();
        return WriteResult::failed;
    }
    unconfirmed_.push_back(std::move(message));
    if (unconfirmed_.size() > kRelpWindow) unconfirmed_.pop_front();
    return WriteResult::ok;
}

}  // namespace scanwatch::agent
