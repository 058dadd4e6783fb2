// AccountService: the fund agency's account lifecycle (enrolment, the lifecycle commands, batch
// jobs) and the reads of one account (the account, its yearly statement). The unary methods are
// on the callback API (services/unary_call.h); RunJob, a server stream, on the synchronous one.
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "ledger/citizen_id.h"
#include "ledger/limits.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/unary_call.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

using S = v1::AccountService;

class AccountServiceImpl final
    : public RawCallback<S::Service, S::WithRawCallbackMethod_Enrol,
                         S::WithRawCallbackMethod_GetAccount,
                         S::WithRawCallbackMethod_CreditCollectiveSubsidy,
                         S::WithRawCallbackMethod_RefundContribution,
                         S::WithRawCallbackMethod_DetermineBenefit,
                         S::WithRawCallbackMethod_SuspendBenefit,
                         S::WithRawCallbackMethod_ResumeBenefit,
                         S::WithRawCallbackMethod_RecordDeath,
                         S::WithRawCallbackMethod_RecordOverpaymentRecovery,
                         S::WithRawCallbackMethod_TerminateParticipant,
                         S::WithRawCallbackMethod_TransferOut,
                         S::WithRawCallbackMethod_TransferIn,
                         S::WithRawCallbackMethod_RecordCadreRole,
                         S::WithRawCallbackMethod_CreditCadreSubsidy,
                         S::WithRawCallbackMethod_GetStatement> {
 public:
  explicit AccountServiceImpl(Gate gate) : gate_(gate) {}

  grpc::ServerUnaryReactor* Enrol(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override {
    return ServeCommand<v1::EnrolRequest, v1::EnrolResponse>(
        gate_, methods::kEnrol, context, request, response,
        [context](Gate::Admitted& call, CallLog&, v1::EnrolRequest& r,
                  std::function<void()> on_ready) -> Submitted<ledger::PendingCommand> {
          if (!call.caller.MayAccessRegion(r.participant().region_code())) {
            return RegionDenied(context, r.participant().region_code());
          }
          return call.ledger.SubmitEnrol(std::move(*r.mutable_participant()), call.caller.actor,
                                         std::move(on_ready));
        },
        [context](Gate::Admitted&, const v1::EnrolRequest&, ledger::PendingCommand& pending,
                  v1::EnrolResponse* answer) {
          return CommandAnswer(context, pending.Wait(), answer);
        });
  }

  grpc::ServerUnaryReactor* GetAccount(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetAccountRequest, v1::Account>(
        gate_, methods::kGetAccount, context, request, response,
        [context](Gate::Admitted& call, const v1::GetAccountRequest& r,
                  v1::Account* answer) -> grpc::Status {
          if (auto st = ledger::ValidateCitizenId(r.citizen_id()); !st.ok()) {
            return RejectionStatus(context,
                                   {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())});
          }
          auto account = call.ledger.GetAccount(r.citizen_id());
          if (!account.ok()) return FromAbsl(account.status());
          if (!account->has_value() || !call.caller.MayAccessRegion((*account)->region_code())) {
            // Outside the caller's regions looks exactly like "not enrolled": no existence oracle.
            return NotEnrolled(r.citizen_id());
          }
          *answer = std::move(**account);
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

  grpc::ServerUnaryReactor* GetStatement(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetStatementRequest, v1::Statement>(
        gate_, methods::kGetStatement, context, request, response,
        [context](Gate::Admitted& call, const v1::GetStatementRequest& r,
                  v1::Statement* answer) -> grpc::Status {
          if (auto st = ledger::ValidateCitizenId(r.citizen_id()); !st.ok()) {
            return RejectionStatus(context,
                                   {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())});
          }
          if (r.year() < ledger::kFirstContributionYear || r.year() > 2999) {
            return RejectionStatus(context, {v1::REASON_INVALID_PERIOD,
                                             StrCat("year ", r.year(), " is implausible")});
          }
          auto statement = call.ledger.GetStatement(r.citizen_id(), r.year());
          if (!statement.ok()) return FromAbsl(statement.status());
          if (!statement->has_value() ||
              !call.caller.MayAccessRegion((*statement)->region_code())) {
            return NotEnrolled(r.citizen_id());
          }
          *answer = std::move(**statement);
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
