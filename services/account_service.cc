// AccountService: the fund agency's account lifecycle (enrolment, the lifecycle commands, batch
// jobs) and the reads of one account (the account, its yearly statement).
#include <memory>
#include <string>
#include <utility>

#include "ledger/citizen_id.h"
#include "ledger/limits.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class AccountServiceImpl final : public v1::AccountService::Service {
 public:
  explicit AccountServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status Enrol(grpc::ServerContext* context, const v1::EnrolRequest* request,
                     v1::EnrolResponse* response) override {
    return gate_.Call(context, methods::kEnrol, [&](Gate::Admitted& call, CallLog&) {
      if (!call.caller.MayAccessRegion(request->participant().region_code())) {
        return RegionDenied(context, request->participant().region_code());
      }
      auto result = call.ledger.Enrol(request->participant(), call.caller.actor);
      return CommandAnswer(context, result, response);
    });
  }

  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::Account* response) override {
    return gate_.Call(context, methods::kGetAccount,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
        return RejectionStatus(context,
                               {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())});
      }
      auto account = call.ledger.GetAccount(request->citizen_id());
      if (!account.ok()) return FromAbsl(account.status());
      if (!account->has_value() || !call.caller.MayAccessRegion((*account)->region_code())) {
        // Outside the caller's regions looks exactly like "not enrolled": no existence oracle.
        return NotEnrolled(request->citizen_id());
      }
      *response = std::move(**account);
      return grpc::Status::OK;
    });
  }

  LEDGER_COMMAND_METHOD(CreditCollectiveSubsidy, credit_collective_subsidy)
  LEDGER_COMMAND_METHOD(RefundContribution, refund_contribution)
  LEDGER_COMMAND_METHOD(DetermineBenefit, determine_benefit)
  LEDGER_COMMAND_METHOD(SuspendBenefit, suspend_benefit)
  LEDGER_COMMAND_METHOD(ResumeBenefit, resume_benefit)
  LEDGER_COMMAND_METHOD(RecordDeath, record_death)
  LEDGER_COMMAND_METHOD(RecordOverpaymentRecovery, record_overpayment_recovery)
  LEDGER_COMMAND_METHOD(TerminateParticipant, terminate_participant)
  LEDGER_COMMAND_METHOD(TransferOut, transfer_out)
  LEDGER_COMMAND_METHOD(TransferIn, transfer_in)
  LEDGER_COMMAND_METHOD(RecordCadreRole, record_cadre_role)
  LEDGER_COMMAND_METHOD(CreditCadreSubsidy, credit_cadre_subsidy)

  grpc::Status RunJob(grpc::ServerContext* context, const v1::JobRequest* request,
                      grpc::ServerWriter<v1::JobProgress>* writer) override {
    return gate_.Call(context, methods::kRunJob,
                      [&](Gate::Admitted& call, CallLog& log) -> grpc::Status {
      if (!call.caller.MayAccessRegion(request->region_code())) {
        return RegionDenied(context, request->region_code());
      }
      // Progress goes out after each chunk; a client that stops reading only loses progress
      // messages (the job itself runs on to completion: every chunk is its own commit).
      auto outcome = call.ledger.RunJob(*request, call.caller.actor,
                                        [&](const v1::JobProgress& p) { writer->Write(p); });
      if (!outcome.ok()) return FromAbsl(outcome.status());
      log.set_records(outcome->progress.accounts_credited());
      if (outcome->rejection) return RejectionStatus(context, *outcome->rejection);
      writer->Write(outcome->progress);
      return grpc::Status::OK;
    });
  }

  grpc::Status GetStatement(grpc::ServerContext* context, const v1::GetStatementRequest* request,
                            v1::Statement* response) override {
    return gate_.Call(context, methods::kGetStatement,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
        return RejectionStatus(context,
                               {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())});
      }
      if (request->year() < ledger::kFirstContributionYear || request->year() > 2999) {
        return RejectionStatus(context, {v1::REASON_INVALID_PERIOD,
                                         StrCat("year ", request->year(), " is implausible")});
      }
      auto statement = call.ledger.GetStatement(request->citizen_id(), request->year());
      if (!statement.ok()) return FromAbsl(statement.status());
      if (!statement->has_value() ||
          !call.caller.MayAccessRegion((*statement)->region_code())) {
        return NotEnrolled(request->citizen_id());
      }
      *response = std::move(**statement);
      return grpc::Status::OK;
    });
  }

 private:
  const Gate gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAccountService(Gate gate) {
  return std::make_unique<AccountServiceImpl>(gate);
}

}  // namespace services
