package guanxi.peer;

import com.google.protobuf.Timestamp;
import guanxi.v1.Config.DimensionConfig;
import guanxi.v1.Config.LifecycleConfig;
import guanxi.v1.Config.ScoringConfig;
import guanxi.v1.Config.ScoringRule;
import guanxi.v1.Config.Signal;
import guanxi.v1.Events.Call;
import guanxi.v1.Events.Event;
import guanxi.v1.Events.Payment;
import guanxi.v1.Events.RelationshipAssessment;
import guanxi.v1.Events.SurveyResponse;
import guanxi.v1.State.CustomerState;
import guanxi.v1.State.Dimension;
import guanxi.v1.State.DimensionScore;
import guanxi.v1.State.LifecycleStage;
import guanxi.v1.State.StageChange;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The relationship score and lifecycle stage of one customer: a port to Java of the
 * subset of guanxi's projections/relationship.cc and projections/lifecycle.cc that the
 * peer computes (docs/scoring.md sections 1 and 2), with the same configuration
 * (ScoringConfig, LifecycleConfig of deploy/guanxi.conf.textproto).
 *
 * <p>Ported: the eight dimensions (the six of the relationship plus feeling and
 * behaviour, which the overall score averages too, so the stage rules need them), their
 * half-lives, observations and prior, the overall score, the order count, the active
 * contracts, the last interaction, and every lifecycle rule with its cause text that does
 * not follow the churn warnings, in guanxi's two phases (what time implies, then what the
 * event implies). Not ported: the rules that put a customer at risk while a churn warning
 * is open and win them back when it resolves (they need the churn rules: guanxi gives the
 * same stages as the peer when its churn weights are all 0, bench/peer/no-warnings.textproto),
 * score change reports, classes, churn evidence and warnings, the other bookkeeping of
 * CustomerState (contacts, complaints, payments, monthly purchases...).
 *
 * <p>Pure and stateless (the configuration is immutable once built): thread-safe. The state
 * is a guanxi.v1.CustomerState of which only the fields above are kept.
 */
public final class Relationship {
  static final int DIMENSIONS = 8; // guanxi.v1.Dimension 1..8
  private static final double SECONDS_PER_DAY = 86400.0;

  private final ScoringConfig scoring;
  private final LifecycleConfig lifecycle;
  private final List<List<ScoringRule>> rulesBySignal = new ArrayList<>();
  private final double[] halfLifeDays = new double[DIMENSIONS + 1];
  private final double[] overallWeight = new double[DIMENSIONS + 1];

  public Relationship(ScoringConfig scoring, LifecycleConfig lifecycle) {
    this.scoring = scoring;
    this.lifecycle = lifecycle;
    for (ScoringRule rule : scoring.getRulesList()) {
      int signal = rule.getSignalValue();
      while (rulesBySignal.size() <= signal) rulesBySignal.add(new ArrayList<>());
      rulesBySignal.get(signal).add(rule);
    }
    for (DimensionConfig d : scoring.getDimensionsList()) {
      int i = d.getDimensionValue();
      if (i <= 0 || i > DIMENSIONS) continue;
      halfLifeDays[i] = d.getHalfLifeDays();
      overallWeight[i] = d.getOverallWeight();
    }
  }

  /** A stage change one application made (from its first stage to its last). */
  public record Change(Timestamp eventTime, StageChange stage) {}

  // ---- Time ----

  static boolean isSet(Timestamp t) {
    return t.getSeconds() != 0 || t.getNanos() != 0;
  }

  static boolean before(Timestamp a, Timestamp b) {
    return a.getSeconds() < b.getSeconds()
        || (a.getSeconds() == b.getSeconds() && a.getNanos() < b.getNanos());
  }

  /** b - a in days. */
  static double daysBetween(Timestamp a, Timestamp b) {
    return ((double) (b.getSeconds() - a.getSeconds())
            + (double) (b.getNanos() - a.getNanos()) * 1e-9)
        / SECONDS_PER_DAY;
  }

  static Timestamp atSeconds(long seconds) {
    return Timestamp.newBuilder().setSeconds(seconds).build();
  }

  private static double clamp100(double x) {
    return Math.min(100.0, Math.max(0.0, x));
  }

  // ---- Reading events ----

  private static Optional<Double> satisfactionOf(Event event) {
    SurveyResponse s = event.getSurvey();
    double range = s.getScaleMax() - s.getScaleMin();
    if (!(range > 0) || !Double.isFinite(range) || !Double.isFinite(s.getSatisfaction())) {
      return Optional.empty();
    }
    return Optional.of(clamp100((s.getSatisfaction() - s.getScaleMin()) / range * 100.0));
  }

  /** Whole days a payment was late (0 when on time or when the due date is unknown). */
  private static long daysLate(Event event) {
    Payment p = event.getPayment();
    if (!isSet(p.getDueAt())) return 0;
    long paid = isSet(p.getPaidAt()) ? p.getPaidAt().getSeconds() : event.getOccurredAt().getSeconds();
    return Math.max(0, (paid - p.getDueAt().getSeconds()) / 86400);
  }

  private static Optional<Double> measuredValue(Signal signal, Event event) {
    switch (signal) {
      case SIGNAL_CALL_SENTIMENT:
        return Optional.of(clamp100((event.getCall().getSentiment() + 1.0) * 50.0));
      case SIGNAL_SURVEY_SATISFACTION:
        return satisfactionOf(event);
      case SIGNAL_SURVEY_NPS:
        return Optional.of(clamp100(event.getSurvey().getNps() * 10.0));
      case SIGNAL_COMPETITOR_LEAN:
        return Optional.of(clamp100((event.getCompetitorSignal().getLean() + 1.0) * 50.0));
      default:
        return Optional.empty();
    }
  }

  /** Every event kind but profile updates, contact changes, assessments and invitations. */
  static boolean isInteraction(Event event) {
    switch (event.getPayloadCase()) {
      case PROFILE:
      case CONTACT_CHANGE:
      case ASSESSMENT:
      case PAYLOAD_NOT_SET:
        return false;
      case ACTIVITY:
        return event.getActivity().getStatus()
            != guanxi.v1.Events.ParticipationStatus.PARTICIPATION_STATUS_INVITED;
      default:
        return true;
    }
  }

  /** The payload's field name ("visit", "order", ...), for causes. */
  private static String kindOf(Event event) {
    return switch (event.getPayloadCase()) {
      case VISIT -> "visit";
      case CALL -> "call";
      case ACTIVITY -> "activity";
      case COMPLAINT -> "complaint";
      case COMPLAINT_RESOLVED -> "complaint_resolved";
      case SURVEY -> "survey";
      case ORDER -> "order";
      case PAYMENT -> "payment";
      case CONTRACT -> "contract";
      case OPPORTUNITY -> "opportunity";
      case INFORMATION_SHARED -> "information_shared";
      case GUIDANCE_GIVEN -> "guidance_given";
      case PROJECT_SUPPORT -> "project_support";
      case COMPETITOR_SIGNAL -> "competitor_signal";
      case REFERRAL -> "referral";
      case CONTACT_CHANGE -> "contact_change";
      case ASSESSMENT -> "assessment";
      case PROFILE -> "profile";
      default -> "event";
    };
  }

  /** The signals an event carries (the keys of the scoring table), in guanxi's order. */
  static List<Signal> signalsOf(Event event, int graceDays) {
    List<Signal> signals = new ArrayList<>(4);
    switch (event.getPayloadCase()) {
      case VISIT -> {
        switch (event.getVisit().getOutcome()) {
          case OUTCOME_POSITIVE -> signals.add(Signal.SIGNAL_VISIT_POSITIVE);
          case OUTCOME_NEGATIVE -> signals.add(Signal.SIGNAL_VISIT_NEGATIVE);
          default -> signals.add(Signal.SIGNAL_VISIT_NEUTRAL);
        }
      }
      case CALL -> {
        Call call = event.getCall();
        boolean inbound = call.getDirection() == guanxi.v1.Events.CallDirection.CALL_DIRECTION_INBOUND;
        signals.add(inbound ? Signal.SIGNAL_CALL_INBOUND : Signal.SIGNAL_CALL_OUTBOUND);
        if (call.getUsefulInformation()) signals.add(Signal.SIGNAL_CALL_USEFUL_INFORMATION);
        if (inbound && !call.getResolved()) signals.add(Signal.SIGNAL_CALL_UNRESOLVED);
        if (call.hasSentiment() && Double.isFinite(call.getSentiment())) {
          signals.add(Signal.SIGNAL_CALL_SENTIMENT);
        }
      }
      case ACTIVITY -> {
        switch (event.getActivity().getStatus()) {
          case PARTICIPATION_STATUS_ATTENDED -> signals.add(Signal.SIGNAL_ACTIVITY_ATTENDED);
          case PARTICIPATION_STATUS_DECLINED -> signals.add(Signal.SIGNAL_ACTIVITY_DECLINED);
          default -> {}
        }
      }
      case COMPLAINT -> {
        switch (event.getComplaint().getSeverity()) {
          case SEVERITY_LOW -> signals.add(Signal.SIGNAL_COMPLAINT_LOW);
          case SEVERITY_MEDIUM -> signals.add(Signal.SIGNAL_COMPLAINT_MEDIUM);
          case SEVERITY_CRITICAL -> signals.add(Signal.SIGNAL_COMPLAINT_CRITICAL);
          default -> signals.add(Signal.SIGNAL_COMPLAINT_HIGH);
        }
      }
      case COMPLAINT_RESOLVED ->
          signals.add(event.getComplaintResolved().getCustomerSatisfied()
              ? Signal.SIGNAL_COMPLAINT_RESOLVED_SATISFIED
              : Signal.SIGNAL_COMPLAINT_RESOLVED_UNSATISFIED);
      case SURVEY -> {
        if (satisfactionOf(event).isPresent()) signals.add(Signal.SIGNAL_SURVEY_SATISFACTION);
        if (event.getSurvey().hasNps()) signals.add(Signal.SIGNAL_SURVEY_NPS);
      }
      case ORDER ->
          signals.add(event.getOrder().getKind() == guanxi.v1.Events.OrderKind.ORDER_KIND_CANCELLATION
              ? Signal.SIGNAL_ORDER_CANCELLED
              : Signal.SIGNAL_ORDER);
      case PAYMENT ->
          signals.add(daysLate(event) > graceDays ? Signal.SIGNAL_PAYMENT_LATE : Signal.SIGNAL_PAYMENT_ON_TIME);
      case CONTRACT -> {
        switch (event.getContract().getMilestone()) {
          case CONTRACT_MILESTONE_KIND_SIGNED -> signals.add(Signal.SIGNAL_CONTRACT_SIGNED);
          case CONTRACT_MILESTONE_KIND_RENEWED -> signals.add(Signal.SIGNAL_CONTRACT_RENEWED);
          case CONTRACT_MILESTONE_KIND_TERMINATED -> signals.add(Signal.SIGNAL_CONTRACT_TERMINATED);
          default -> {}
        }
      }
      case OPPORTUNITY -> {
        switch (event.getOpportunity().getStage()) {
          case OPPORTUNITY_STAGE_WON -> signals.add(Signal.SIGNAL_OPPORTUNITY_WON);
          case OPPORTUNITY_STAGE_LOST ->
              signals.add(event.getOpportunity().getLostToCompetitor().isEmpty()
                  ? Signal.SIGNAL_OPPORTUNITY_LOST
                  : Signal.SIGNAL_OPPORTUNITY_LOST_TO_COMPETITOR);
          default -> {}
        }
      }
      case INFORMATION_SHARED -> signals.add(Signal.SIGNAL_INFORMATION_SHARED);
      case GUIDANCE_GIVEN -> signals.add(Signal.SIGNAL_GUIDANCE_GIVEN);
      case PROJECT_SUPPORT -> signals.add(Signal.SIGNAL_PROJECT_SUPPORT);
      case COMPETITOR_SIGNAL -> {
        if (Double.isFinite(event.getCompetitorSignal().getLean())) {
          signals.add(Signal.SIGNAL_COMPETITOR_LEAN);
        }
      }
      case REFERRAL -> signals.add(Signal.SIGNAL_REFERRAL);
      case CONTACT_CHANGE -> {
        if (isChampionLeaving(event)) signals.add(Signal.SIGNAL_CHAMPION_LEFT);
      }
      default -> {}
    }
    return signals;
  }

  private List<ScoringRule> rules(Signal signal) {
    int i = signal.getNumber();
    return i < rulesBySignal.size() ? rulesBySignal.get(i) : Collections.emptyList();
  }

  // ---- The score ----

  private double scoreOf(double evidenceWeight, double evidenceMean) {
    return (scoring.getPriorWeight() * scoring.getPrior() + evidenceWeight * evidenceMean)
        / (scoring.getPriorWeight() + evidenceWeight);
  }

  private void recomputeOverall(CustomerState.Builder state) {
    double sum = 0;
    double weights = 0;
    for (DimensionScore d : state.getDimensionsList()) {
      sum += overallWeight[d.getDimensionValue()] * d.getScore();
      weights += overallWeight[d.getDimensionValue()];
    }
    state.setOverallScore(sum / weights);
  }

  private void initialize(CustomerState.Builder state, Event event) {
    state.setCustomerId(event.getCustomerId());
    state.setFirstEventAt(event.getOccurredAt());
    state.setAsOf(event.getOccurredAt());
    for (int d = 1; d <= DIMENSIONS; ++d) {
      state.addDimensions(
          DimensionScore.newBuilder().setDimensionValue(d).setScore(scoring.getPrior()));
    }
    recomputeOverall(state);
  }

  /** Decays every dimension's evidence from state.as_of to t; never moves back. */
  private void decay(CustomerState.Builder state, Timestamp t) {
    if (!before(state.getAsOf(), t)) return;
    double days = daysBetween(state.getAsOf(), t);
    for (int i = 0; i < state.getDimensionsCount(); ++i) {
      DimensionScore.Builder d = state.getDimensionsBuilder(i);
      d.setEvidenceWeight(
          d.getEvidenceWeight() * Math.pow(2.0, -days / halfLifeDays[d.getDimensionValue()]));
      d.setScore(scoreOf(d.getEvidenceWeight(), d.getEvidenceMean()));
    }
    state.setAsOf(t);
    recomputeOverall(state);
  }

  private void observe(CustomerState.Builder state, int dimension, double value, double weight, Timestamp t) {
    DimensionScore.Builder d = state.getDimensionsBuilder(dimension - 1);
    if (before(t, state.getAsOf())) {
      weight *= Math.pow(2.0, -daysBetween(t, state.getAsOf()) / halfLifeDays[dimension]);
      if (!(weight > 0)) return; // too old to count (underflow)
    }
    double total = d.getEvidenceWeight() + weight;
    d.setEvidenceMean((d.getEvidenceWeight() * d.getEvidenceMean() + weight * value) / total);
    d.setEvidenceWeight(total);
    d.setScore(scoreOf(d.getEvidenceWeight(), d.getEvidenceMean()));
  }

  private void observeEvent(CustomerState.Builder state, Event event) {
    Timestamp t = event.getOccurredAt();
    if (event.hasAssessment()) {
      RelationshipAssessment a = event.getAssessment();
      boolean[] has = {a.hasAcceptance(), a.hasParticipation(), a.hasInformation(),
          a.hasGuidance(), a.hasProjectSupport(), a.hasCompetitivePreference()};
      double[] rating = {a.getAcceptance(), a.getParticipation(), a.getInformation(),
          a.getGuidance(), a.getProjectSupport(), a.getCompetitivePreference()};
      for (int i = 0; i < 6; ++i) {
        if (!has[i] || !Double.isFinite(rating[i])) continue;
        observe(state, i + 1, clamp100(rating[i]), scoring.getAssessmentWeight(), t);
      }
      return;
    }
    for (Signal signal : signalsOf(event, scoring.getPaymentGraceDays())) {
      Optional<Double> measured = measuredValue(signal, event);
      for (ScoringRule rule : rules(signal)) {
        observe(state, rule.getDimensionValue(), measured.orElse(rule.getValue()), rule.getWeight(), t);
      }
    }
  }

  /** The bookkeeping the stage rules read: last interaction, orders, active contracts. */
  private static void bookkeep(CustomerState.Builder state, Event event) {
    Timestamp t = event.getOccurredAt();
    if (before(t, state.getFirstEventAt())) state.setFirstEventAt(t);
    if (isInteraction(event)
        && (!isSet(state.getLastInteractionAt()) || before(state.getLastInteractionAt(), t))) {
      state.setLastInteractionAt(t);
    }
    switch (event.getPayloadCase()) {
      case ORDER -> {
        if (event.getOrder().getKind() != guanxi.v1.Events.OrderKind.ORDER_KIND_CANCELLATION) {
          state.setOrders(state.getOrders() + 1);
        }
      }
      case CONTRACT -> {
        String id = event.getContract().getContractId();
        switch (event.getContract().getMilestone()) {
          case CONTRACT_MILESTONE_KIND_SIGNED, CONTRACT_MILESTONE_KIND_RENEWED -> {
            List<String> ids = new ArrayList<>(state.getActiveContractsList());
            int at = Collections.binarySearch(ids, id);
            if (at < 0) {
              ids.add(-at - 1, id);
              state.clearActiveContracts().addAllActiveContracts(ids);
            }
          }
          case CONTRACT_MILESTONE_KIND_TERMINATED -> {
            List<String> ids = new ArrayList<>(state.getActiveContractsList());
            if (ids.remove(id)) state.clearActiveContracts().addAllActiveContracts(ids);
          }
          default -> {}
        }
      }
      default -> {}
    }
  }

  // ---- The lifecycle ----

  private static boolean isPurchase(Event event) {
    if (event.hasOrder()) {
      return event.getOrder().getKind() != guanxi.v1.Events.OrderKind.ORDER_KIND_CANCELLATION;
    }
    if (event.hasContract()) {
      var m = event.getContract().getMilestone();
      return m == guanxi.v1.Events.ContractMilestoneKind.CONTRACT_MILESTONE_KIND_SIGNED
          || m == guanxi.v1.Events.ContractMilestoneKind.CONTRACT_MILESTONE_KIND_RENEWED;
    }
    return event.hasOpportunity()
        && event.getOpportunity().getStage() == guanxi.v1.Events.OpportunityStage.OPPORTUNITY_STAGE_WON;
  }

  private static String purchaseCause(Event event) {
    if (event.hasOrder()) return "order " + event.getOrder().getOrderId();
    if (event.hasContract()) {
      return "contract " + event.getContract().getContractId()
          + (event.getContract().getMilestone()
                  == guanxi.v1.Events.ContractMilestoneKind.CONTRACT_MILESTONE_KIND_SIGNED
              ? " signed"
              : " renewed");
    }
    return "opportunity " + event.getOpportunity().getOpportunityId() + " won";
  }

  private static boolean isTermination(Event e) {
    return e.hasContract()
        && e.getContract().getMilestone()
            == guanxi.v1.Events.ContractMilestoneKind.CONTRACT_MILESTONE_KIND_TERMINATED;
  }

  private static boolean isChampionLeaving(Event e) {
    return e.hasContactChange()
        && e.getContactChange().getChange()
            == guanxi.v1.Events.ContactChangeKind.CONTACT_CHANGE_KIND_LEFT
        && e.getContactChange().getChampion();
  }

  private static String score1(double x) {
    return String.format(Locale.ROOT, "%.1f", x);
  }

  /** What the rules look at besides the state (lifecycle.cc's Phase and RunContext). */
  private static final class Context {
    final Event event; // null in the time phase
    final double quietDays;
    final boolean scoreNotLowered;
    boolean eventUsed;
    boolean enteredWinningBack;

    Context(Event event, double quietDays, boolean scoreNotLowered) {
      this.event = event;
      this.quietDays = quietDays;
      this.scoreNotLowered = scoreNotLowered;
    }
  }

  private record Move(LifecycleStage to, String cause, boolean usesEvent) {}

  private static String quietCause(Context ctx, int threshold) {
    return "no interaction for " + (long) Math.floor(ctx.quietDays) + " days (threshold " + threshold + ")";
  }

  /** The first transition the rules allow from the current stage, if any. */
  private Move nextStage(CustomerState.Builder state, Context ctx) {
    LifecycleConfig lc = lifecycle;
    Event e = ctx.eventUsed ? null : ctx.event;
    double score = state.getOverallScore();
    boolean quietLost = ctx.quietDays >= lc.getLostInactiveDays();
    boolean lastContractEnded = e != null && isTermination(e) && state.getActiveContractsCount() == 0;
    LifecycleStage stage = state.getStage();
    switch (stage) {
      case LIFECYCLE_STAGE_UNSPECIFIED:
        if (ctx.event == null) return null;
        return new Move(LifecycleStage.LIFECYCLE_STAGE_IDENTIFIED, "first event: " + kindOf(ctx.event), false);
      case LIFECYCLE_STAGE_IDENTIFIED:
      case LIFECYCLE_STAGE_ENGAGING:
        if (quietLost) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_LOST, quietCause(ctx, lc.getLostInactiveDays()), false);
        }
        if (e != null && isPurchase(e)) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_DEEPENING, "first purchase: " + purchaseCause(e), true);
        }
        if (stage == LifecycleStage.LIFECYCLE_STAGE_IDENTIFIED && e != null && isInteraction(e)) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_ENGAGING, "first interaction: " + kindOf(e), true);
        }
        return null;
      case LIFECYCLE_STAGE_DEEPENING:
      case LIFECYCLE_STAGE_MAINTAINING:
        // (guanxi: at risk while a churn warning at level warning or above is open; the
        // peer computes no churn warnings, so the rule never applies here.)
        if (stage == LifecycleStage.LIFECYCLE_STAGE_DEEPENING) {
          if (e != null && e.hasContract() && isPurchase(e)) {
            return new Move(LifecycleStage.LIFECYCLE_STAGE_MAINTAINING, purchaseCause(e), true);
          }
          if (state.getOrders() >= lc.getMaintainingMinOrders() && score >= lc.getMaintainingScore()) {
            return new Move(LifecycleStage.LIFECYCLE_STAGE_MAINTAINING,
                state.getOrders() + " orders (minimum " + lc.getMaintainingMinOrders() + ") and score "
                    + score1(score) + " at or above " + score1(lc.getMaintainingScore()),
                false);
          }
        }
        return null;
      case LIFECYCLE_STAGE_AT_RISK:
      case LIFECYCLE_STAGE_WINNING_BACK:
        if (lastContractEnded) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_LOST, terminationCause(e), true);
        }
        if (quietLost) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_LOST, quietCause(ctx, lc.getLostInactiveDays()), false);
        }
        // (guanxi: at risk -> winning back when the churn warning resolves, and winning
        // back -> at risk when one opens again; never here: the peer has no warnings, so
        // at risk is never entered.)
        if (stage == LifecycleStage.LIFECYCLE_STAGE_AT_RISK) return null;
        if (ctx.event == null || ctx.enteredWinningBack) return null;
        if (score >= lc.getRecoveredScore()) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_MAINTAINING,
              "score " + score1(score) + " recovered to " + score1(lc.getRecoveredScore()) + " or more", false);
        }
        if (e != null && isPurchase(e) && score >= lc.getAtRiskScore()) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_MAINTAINING,
              purchaseCause(e) + " with score " + score1(score) + " at or above " + score1(lc.getAtRiskScore()),
              true);
        }
        return null;
      case LIFECYCLE_STAGE_LOST:
        // Back in touch by an interaction that did not lower the score.
        if (e != null && isInteraction(e) && ctx.scoreNotLowered) {
          return new Move(LifecycleStage.LIFECYCLE_STAGE_WINNING_BACK, "back in contact: " + kindOf(e), true);
        }
        return null;
      default:
        return null;
    }
  }

  private static String terminationCause(Event e) {
    return "contract " + e.getContract().getContractId() + " terminated, no active contract left";
  }

  private static double quietDays(CustomerState.Builder state, Timestamp now) {
    Timestamp since = isSet(state.getLastInteractionAt()) ? state.getLastInteractionAt() : state.getFirstEventAt();
    return Math.max(0.0, daysBetween(since, now));
  }

  /** One application's run of the rules (lifecycle.cc's StageRun). */
  private final class StageRun {
    private final CustomerState.Builder state;
    private final LifecycleStage from;
    private final List<LifecycleStage> entered = new ArrayList<>(4);
    private final List<String> causes = new ArrayList<>(2);

    StageRun(CustomerState.Builder state) {
      this.state = state;
      this.from = state.getStage();
    }

    void run(Context ctx) {
      Move move;
      while ((move = nextStage(state, ctx)) != null) {
        if (entered.contains(move.to())) break;
        entered.add(move.to());
        causes.add(move.cause());
        state.setStage(move.to());
        ctx.eventUsed = ctx.eventUsed || move.usesEvent();
        if (move.to() == LifecycleStage.LIFECYCLE_STAGE_WINNING_BACK) ctx.enteredWinningBack = true;
      }
    }

    Optional<Change> record(Timestamp now) {
      if (causes.isEmpty() || state.getStage() == from) return Optional.empty();
      state.setStageSince(now);
      return Optional.of(new Change(now, StageChange.newBuilder()
          .setFrom(from)
          .setTo(state.getStage())
          .setCause(String.join("; then ", causes))
          .build()));
    }
  }

  // ---- The API ----

  /**
   * Applies one event to the customer's state (empty for a new customer): decays the
   * evidence to the event's time, applies what the silence before it implies, then the
   * event's observations and its stage rules. Returns the stage change, if any.
   */
  public Optional<Change> applyEvent(CustomerState.Builder state, Event event) {
    Timestamp t = event.getOccurredAt();
    if (state.getDimensionsCount() == 0) initialize(state, event);
    decay(state, t);
    double quiet = quietDays(state, t); // before the event counts
    double before = state.getOverallScore();
    observeEvent(state, event);
    recomputeOverall(state);
    bookkeep(state, event);
    // As guanxi (projections/lifecycle.cc), the stage moves once the event is applied:
    // first what the silence before it implies (as a tick at t would), then the event.
    StageRun stages = new StageRun(state);
    stages.run(new Context(null, quiet, false));
    stages.run(new Context(event, 0, state.getOverallScore() >= before));
    return stages.record(t);
  }

  /** Lets event time pass to `now` without an event (an inactivity deadline reached). */
  public Optional<Change> advanceTime(CustomerState.Builder state, Timestamp now) {
    if (state.getDimensionsCount() == 0) return Optional.empty();
    decay(state, now);
    StageRun stages = new StageRun(state);
    stages.run(new Context(null, quietDays(state, now), false));
    return stages.record(now);
  }

  /**
   * The event time (whole seconds) at which the passing of time alone next moves the
   * customer's stage, after state.as_of; empty when no inactivity rule applies.
   */
  public Optional<Long> nextInactivityDeadline(CustomerState state) {
    if (state.getDimensionsCount() == 0) return Optional.empty();
    int days;
    switch (state.getStage()) {
      case LIFECYCLE_STAGE_IDENTIFIED, LIFECYCLE_STAGE_ENGAGING, LIFECYCLE_STAGE_AT_RISK,
          LIFECYCLE_STAGE_WINNING_BACK -> days = lifecycle.getLostInactiveDays();
      default -> {
        return Optional.empty();
      }
    }
    Timestamp since = isSet(state.getLastInteractionAt()) ? state.getLastInteractionAt() : state.getFirstEventAt();
    long deadline = since.getSeconds() + (long) days * 86400 + (since.getNanos() > 0 ? 1 : 0);
    if (!before(state.getAsOf(), atSeconds(deadline))) return Optional.empty();
    return Optional.of(deadline);
  }
}
