#include "projections/classes.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"
#include "projections/churn/bgnbd.h"
#include "projections/population.h"
#include "projections/readings.h"
#include "projections/relationship.h"

namespace guanxi::projections {
namespace {

using google::protobuf::Timestamp;
using guanxi::v1::Classes;
using guanxi::v1::ClassificationConfig;
using guanxi::v1::CustomerState;
using guanxi::v1::Event;

constexpr std::string_view kHigh = "high", kMedium = "medium", kLow = "low";
constexpr std::string_view kScores[] = {"", "1", "2", "3", "4", "5"};
constexpr double kExpectationDays = 90.0;  // expected_purchases_90d

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

void SetMax(Timestamp& target, const Timestamp& t) {
  if (!IsSet(target) || Before(target, t)) target = t;
}

// --- Formatting (reasons only) --------------------------------------------------------

// Minor units as an amount with two decimals and thousands separators: "12,400.00".
std::string Money(int64_t minor) {
  const bool negative = minor < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  const std::string units = absl::StrCat(magnitude / 100);
  std::string grouped;
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0 && (units.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(units[i]);
  }
  return absl::StrFormat("%s%s.%02d", negative ? "-" : "", grouped,
                         static_cast<int>(magnitude % 100));
}

std::string MoneyOf(double minor) { return Money(static_cast<int64_t>(std::llround(minor))); }
std::string Percent(double fraction) { return absl::StrFormat("%.1f%%", fraction * 100); }
std::string Signed(double fraction) { return absl::StrFormat("%+.1f%%", fraction * 100); }
std::string One(double x) { return absl::StrFormat("%.1f", x); }
std::string Count(double x) { return absl::StrFormat("%.0f", x); }
std::string Days(double x) { return absl::StrFormat("%.0f days", x); }

// "1 complaint" / "2 complaints".
std::string Many(int64_t n, std::string_view noun) {
  return absl::StrCat(n, " ", Sv(noun), n == 1 ? "" : "s");
}

// --- What the classifiers look at ----------------------------------------------------

struct Inputs {
  const ClassificationConfig& config;
  const guanxi::v1::ModelRecord* model;  // nullptr: none yet
  const CustomerState& state;            // classes already decided are read from here
  int64_t day;                           // UtcDay of the moment of classification
  std::optional<RfmFigures> rfm;         // nullopt: no purchase
  TrailingPurchases trailing12;
  TrailingPurchases last6;  // the current calendar month and the 5 before it

  bool HasAbc() const { return model != nullptr && model->has_abc(); }
  bool HasRfm() const { return model != nullptr && model->has_rfm(); }
  // Whole days from `t` to the moment of classification (0 for a later `t`).
  int64_t DaysSince(const Timestamp& t) const { return std::max<int64_t>(0, day - UtcDay(t)); }
};

// A classifier returns the class the customer belongs in; with `reason` non-null it
// also writes why. It must not allocate when `reason` is null.
using Decide = std::string_view (*)(const Inputs&, std::string* reason);

// For fixed texts; computed reasons are built under `if (reason)`.
void Explain(std::string* reason, std::string_view text) {
  if (reason != nullptr) reason->assign(text);
}

// --- ABC ------------------------------------------------------------------------------

std::string_view DecideAbc(const Inputs& in, std::string* reason) {
  if (!in.HasAbc()) {
    Explain(reason, "no population model with ABC cut-offs");
    return "";
  }
  const auto& abc = in.model->abc();
  const int64_t revenue = in.trailing12.revenue_minor;
  if (revenue >= abc.a_min_revenue_minor()) {
    if (reason) {
      *reason = absl::StrCat("trailing-12-month revenue ", Money(revenue), " >= A cut-off ",
                             Money(abc.a_min_revenue_minor()));
    }
    return "A";
  }
  if (revenue >= abc.b_min_revenue_minor()) {
    if (reason) {
      *reason = absl::StrCat("trailing-12-month revenue ", Money(revenue), " >= B cut-off ",
                             Money(abc.b_min_revenue_minor()), ", < A cut-off ",
                             Money(abc.a_min_revenue_minor()));
    }
    return "B";
  }
  if (reason) {
    *reason = absl::StrCat("trailing-12-month revenue ", Money(revenue), " < B cut-off ",
                           Money(abc.b_min_revenue_minor()));
  }
  return "C";
}

// --- RFM ------------------------------------------------------------------------------

// Where `value` lies among the quintile boundaries: "> b (20th percentile), <= c (40th
// percentile)" around quintile `q`.
std::string Bracket(int q, const google::protobuf::RepeatedField<double>& b,
                    std::string (*format)(double)) {
  std::string out;
  if (q > 1) absl::StrAppend(&out, "> ", format(b[q - 2]), " (", (q - 1) * 20, "th percentile)");
  if (q > 1 && q < 5) out += ", ";
  if (q < 5) absl::StrAppend(&out, "<= ", format(b[q - 1]), " (", q * 20, "th percentile)");
  return out;
}

std::string_view NoRfm(const Inputs& in, std::string* reason) {
  Explain(reason, in.HasRfm() ? "no purchase" : "no population model with RFM quintiles");
  return "";
}

std::string_view DecideRecency(const Inputs& in, std::string* reason) {
  if (!in.HasRfm() || !in.rfm) return NoRfm(in, reason);
  const auto& b = in.model->rfm().recency_days();
  const int q = Quintile(static_cast<double>(in.rfm->recency_days), b);
  if (q == 0) return NoRfm(in, reason);
  if (reason) {
    *reason = absl::StrCat("last purchase ", in.rfm->recency_days,
                           " days ago: ", Bracket(q, b, Days), "; fewer days score higher");
  }
  return kScores[6 - q];
}

std::string_view DecideFrequency(const Inputs& in, std::string* reason) {
  if (!in.HasRfm() || !in.rfm) return NoRfm(in, reason);
  const auto& b = in.model->rfm().frequency();
  const int q = Quintile(static_cast<double>(in.rfm->frequency), b);
  if (q == 0) return NoRfm(in, reason);
  if (reason) {
    *reason = absl::StrCat(Many(in.rfm->frequency, "order"),
                           " in the trailing 12 months: ", Bracket(q, b, Count));
  }
  return kScores[q];
}

std::string_view DecideMonetary(const Inputs& in, std::string* reason) {
  if (!in.HasRfm() || !in.rfm) return NoRfm(in, reason);
  const auto& b = in.model->rfm().monetary_minor();
  const int q = Quintile(static_cast<double>(in.rfm->monetary_minor), b);
  if (q == 0) return NoRfm(in, reason);
  if (reason) {
    *reason = absl::StrCat("trailing-12-month revenue ", Money(in.rfm->monetary_minor), ": ",
                           Bracket(q, b, MoneyOf));
  }
  return kScores[q];
}

std::string Cell(const Classes& c) {
  return absl::StrCat(c.rfm_recency(), "-", c.rfm_frequency(), "-", c.rfm_monetary());
}

bool HasRfmScores(const Classes& c) {
  return c.rfm_recency() > 0 && c.rfm_frequency() > 0 && c.rfm_monetary() > 0;
}

std::string_view DecideSegment(const Inputs& in, std::string* reason) {
  const Classes& c = in.state.classes();
  if (!HasRfmScores(c)) return NoRfm(in, reason);
  for (int i = 0; i < in.config.rfm_segments_size(); ++i) {
    const auto& row = in.config.rfm_segments(i);
    if (c.rfm_recency() < row.r_min() || c.rfm_recency() > row.r_max() ||
        c.rfm_frequency() < row.f_min() || c.rfm_frequency() > row.f_max() ||
        c.rfm_monetary() < row.m_min() || c.rfm_monetary() > row.m_max()) {
      continue;
    }
    if (reason) {
      *reason = absl::StrFormat("R-F-M %s is in segment row %d (R %d..%d, F %d..%d, M %d..%d)",
                                Cell(c), i + 1, row.r_min(), row.r_max(), row.f_min(), row.f_max(),
                                row.m_min(), row.m_max());
    }
    return row.name();
  }
  if (reason) *reason = absl::StrCat("R-F-M ", Cell(c), " is in no segment row");
  return "";  // unreachable with a validated config: the rows cover every cell
}

// --- Transaction quadrant -------------------------------------------------------------

std::string_view DecideQuadrant(const Inputs& in, std::string* reason) {
  const Classes& c = in.state.classes();
  if (!HasRfmScores(c)) return NoRfm(in, reason);
  const int f_min = in.config.quadrant_high_frequency_score();
  const int m_min = in.config.quadrant_high_monetary_score();
  const bool frequent = c.rfm_frequency() >= f_min;
  const bool large = c.rfm_monetary() >= m_min;
  if (reason) {
    *reason =
        absl::StrFormat("F %d %s %d (%s frequency), M %d %s %d (%s amount)", c.rfm_frequency(),
                        frequent ? ">=" : "<", f_min, frequent ? "high" : "low", c.rfm_monetary(),
                        large ? ">=" : "<", m_min, large ? "high" : "low");
  }
  if (frequent) return large ? "high_value" : "potential";
  return large ? "one_off" : "lost";
}

// --- Value, potential, loyalty tiers --------------------------------------------------

std::string_view DecideValue(const Inputs& in, std::string* reason) {
  if (!in.HasRfm()) return NoRfm(in, reason);
  const Classes& c = in.state.classes();
  if (!HasRfmScores(c)) {
    Explain(reason, "no purchase");
    return kLow;
  }
  const int sum = c.rfm_recency() + c.rfm_frequency() + c.rfm_monetary();
  const int high = in.config.value_high_rfm_sum();
  const int medium = in.config.value_medium_rfm_sum();
  const std::string_view tier = sum >= high ? kHigh : sum >= medium ? kMedium : kLow;
  if (reason) {
    const std::string figures = absl::StrFormat("R+F+M %d+%d+%d = %d", c.rfm_recency(),
                                                c.rfm_frequency(), c.rfm_monetary(), sum);
    if (tier == kHigh) {
      *reason = absl::StrFormat("%s >= %d", figures, high);
    } else if (tier == kMedium) {
      *reason = absl::StrFormat("%s >= %d, < %d", figures, medium, high);
    } else {
      *reason = absl::StrFormat("%s < %d", figures, medium);
    }
  }
  return tier;
}

int Rank(std::string_view tier) { return tier == kHigh ? 2 : tier == kMedium ? 1 : 0; }

std::string_view DecidePotential(const Inputs& in, std::string* reason) {
  if (!in.HasAbc()) {
    Explain(reason, "no population model with ABC cut-offs");
    return "";
  }
  const auto& abc = in.model->abc();
  // (a) The untapped part of the account manager's estimate, against the ABC cut-offs.
  const int64_t estimate = in.state.potential_estimate_minor();
  const int64_t untapped = estimate - in.trailing12.revenue_minor;
  std::string_view by_estimate = kLow;
  if (estimate > 0 && untapped >= abc.a_min_revenue_minor()) {
    by_estimate = kHigh;
  } else if (estimate > 0 && untapped >= abc.b_min_revenue_minor()) {
    by_estimate = kMedium;
  }
  // (b) Revenue growth: the last 6 calendar months against the 6 before.
  const int64_t recent = in.last6.revenue_minor;
  const int64_t previous = in.trailing12.revenue_minor - recent;
  std::string_view by_growth = kLow;
  double growth = 0;
  if (previous > 0) {
    growth = static_cast<double>(recent) / static_cast<double>(previous) - 1.0;
    if (growth >= in.config.potential_high_growth()) {
      by_growth = kHigh;
    } else if (growth >= in.config.potential_medium_growth()) {
      by_growth = kMedium;
    }
  }
  const std::string_view tier = Rank(by_growth) > Rank(by_estimate) ? by_growth : by_estimate;
  if (reason) {
    std::string a;
    if (estimate <= 0) {
      a = "no potential estimate (low)";
    } else {
      a = absl::StrCat("untapped potential ", Money(untapped), " (estimate ", Money(estimate),
                       " - trailing-12-month revenue ", Money(in.trailing12.revenue_minor), ") ");
      if (by_estimate == kHigh) {
        absl::StrAppend(&a, ">= A cut-off ", Money(abc.a_min_revenue_minor()), " (high)");
      } else if (by_estimate == kMedium) {
        absl::StrAppend(&a, ">= B cut-off ", Money(abc.b_min_revenue_minor()), " (medium)");
      } else {
        absl::StrAppend(&a, "< B cut-off ", Money(abc.b_min_revenue_minor()), " (low)");
      }
    }
    std::string b;
    if (previous <= 0) {
      b = absl::StrCat("no revenue in the 6 months before the last 6 (last 6 months ",
                       Money(recent), "): growth not measured (low)");
    } else {
      b = absl::StrCat("revenue growth ", Signed(growth), " (last 6 months ", Money(recent), " vs ",
                       Money(previous), " the 6 before) ");
      if (by_growth == kHigh) {
        absl::StrAppend(&b, ">= ", Signed(in.config.potential_high_growth()), " (high)");
      } else if (by_growth == kMedium) {
        absl::StrAppend(&b, ">= ", Signed(in.config.potential_medium_growth()), " (medium)");
      } else {
        absl::StrAppend(&b, "< ", Signed(in.config.potential_medium_growth()), " (low)");
      }
    }
    *reason = absl::StrCat(Sv(tier), " is the higher of: ", a, "; ", b);
  }
  return tier;
}

double FeelingScore(const CustomerState& state) {
  for (const auto& d : state.dimensions()) {
    if (d.dimension() == guanxi::v1::DIMENSION_FEELING) return d.score();
  }
  return 50.0;  // unreachable for an applied state: every dimension is present
}

std::string_view DecideLoyalty(const Inputs& in, std::string* reason) {
  const auto& cfg = in.config;
  const CustomerState& s = in.state;
  const double satisfaction = FeelingScore(s);
  const double complaint_rate =
      static_cast<double>(s.complaints()) / static_cast<double>(std::max<int64_t>(1, s.orders()));
  const int64_t decided = s.contracts_renewed() + s.contracts_terminated();
  const bool has_renewal = decided > 0;
  const double renewal_rate =
      has_renewal ? static_cast<double>(s.contracts_renewed()) / static_cast<double>(decided) : 0;

  const bool low_satisfaction = satisfaction < cfg.loyalty_low_satisfaction();
  const bool low_complaints = complaint_rate > cfg.loyalty_low_complaint_rate();
  const bool low_renewal = has_renewal && renewal_rate < cfg.loyalty_low_renewal_rate();
  const bool high = satisfaction >= cfg.loyalty_high_satisfaction() &&
                    complaint_rate <= cfg.loyalty_high_complaint_rate() &&
                    (!has_renewal || renewal_rate >= cfg.loyalty_high_renewal_rate());
  const std::string_view tier = low_satisfaction || low_complaints || low_renewal ? kLow
                                : high                                            ? kHigh
                                                                                  : kMedium;
  if (reason == nullptr) return tier;

  const std::string sat = absl::StrCat("satisfaction ", One(satisfaction));
  const std::string comp = absl::StrCat("complaint rate ", Percent(complaint_rate), " (",
                                        Many(s.complaints(), "complaint"), " / ",
                                        Many(std::max<int64_t>(1, s.orders()), "order"), ")");
  const std::string ren = has_renewal ? absl::StrCat("renewal rate ", Percent(renewal_rate), " (",
                                                     s.contracts_renewed(), " renewed, ",
                                                     s.contracts_terminated(), " terminated)")
                                      : std::string("no contract renewed or terminated");
  if (tier == kLow) {
    std::string out;
    auto add = [&out](const std::string& part) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", part);
    };
    if (low_satisfaction) add(absl::StrCat(sat, " < ", One(cfg.loyalty_low_satisfaction())));
    if (low_complaints) add(absl::StrCat(comp, " > ", Percent(cfg.loyalty_low_complaint_rate())));
    if (low_renewal) add(absl::StrCat(ren, " < ", Percent(cfg.loyalty_low_renewal_rate())));
    *reason = std::move(out);
  } else if (tier == kHigh) {
    *reason =
        absl::StrCat(sat, " >= ", One(cfg.loyalty_high_satisfaction()), ", ", comp,
                     " <= ", Percent(cfg.loyalty_high_complaint_rate()), ", ", ren,
                     has_renewal ? absl::StrCat(" >= ", Percent(cfg.loyalty_high_renewal_rate()))
                                 : std::string());
  } else {
    // Medium: not low, and at least one figure short of high.
    std::string out = "not high: ";
    bool first = true;
    auto add = [&](const std::string& part) {
      absl::StrAppend(&out, first ? "" : "; ", part);
      first = false;
    };
    if (satisfaction < cfg.loyalty_high_satisfaction()) {
      add(absl::StrCat(sat, " < ", One(cfg.loyalty_high_satisfaction())));
    }
    if (complaint_rate > cfg.loyalty_high_complaint_rate()) {
      add(absl::StrCat(comp, " > ", Percent(cfg.loyalty_high_complaint_rate())));
    }
    if (has_renewal && renewal_rate < cfg.loyalty_high_renewal_rate()) {
      add(absl::StrCat(ren, " < ", Percent(cfg.loyalty_high_renewal_rate())));
    }
    absl::StrAppend(&out, "; not low: ", sat, " >= ", One(cfg.loyalty_low_satisfaction()), ", ",
                    comp, " <= ", Percent(cfg.loyalty_low_complaint_rate()));
    if (has_renewal)
      absl::StrAppend(&out, ", ", ren, " >= ", Percent(cfg.loyalty_low_renewal_rate()));
    *reason = std::move(out);
  }
  return tier;
}

// --- Development matrix ---------------------------------------------------------------

std::string_view DecideDevelopment(const Inputs& in, std::string* reason) {
  const Classes& c = in.state.classes();
  if (c.value_tier().empty() || c.potential_tier().empty()) {
    Explain(reason, "no value or potential tier (no population model)");
    return "";
  }
  const int benefit = Rank(c.value_tier());
  const int growth = Rank(c.potential_tier());
  std::string_view to;
  if ((benefit == 2 && growth >= 1) || (growth == 2 && benefit >= 1)) {
    to = "key_account";
  } else if (benefit == 2) {
    to = "general_1";
  } else if (growth == 2) {
    to = "general_2";
  } else {
    to = "prospect";
  }
  if (reason) {
    *reason = absl::StrCat("benefit (value tier) ", c.value_tier(), ", growth (potential tier) ",
                           c.potential_tier());
  }
  return to;
}

// --- Intent class ---------------------------------------------------------------------

std::string_view DecideIntent(const Inputs& in, std::string* reason) {
  const auto& cfg = in.config;
  const CustomerState& s = in.state;
  auto within = [&](const Timestamp& t, int32_t days) {
    return IsSet(t) && in.DaysSince(t) <= days;
  };
  if (within(s.last_conversion_at(), cfg.intent_converted_days())) {
    if (reason) {
      *reason = absl::StrCat("converted (order, won opportunity or contract) ",
                             in.DaysSince(s.last_conversion_at()), " days ago, within ",
                             cfg.intent_converted_days());
    }
    return "A";
  }
  if (s.active_contracts_size() > 0) {
    if (reason) {
      *reason =
          absl::StrCat(Many(s.active_contracts_size(), "active contract"), " (renewing customer)");
    }
    return "A";
  }
  if (within(s.last_inbound_call_at(), cfg.intent_inquiry_days())) {
    if (reason) {
      *reason = absl::StrCat("inbound call ", in.DaysSince(s.last_inbound_call_at()),
                             " days ago, within ", cfg.intent_inquiry_days());
    }
    return "A";
  }
  if (s.strategic()) {
    Explain(reason, "strategic account (profile), not converted, renewing or inquiring");
    return "B";
  }
  if (within(s.last_open_opportunity_at(), cfg.intent_target_days())) {
    if (reason) {
      *reason = absl::StrCat("opportunity in progress updated ",
                             in.DaysSince(s.last_open_opportunity_at()), " days ago, within ",
                             cfg.intent_target_days());
    }
    return "B";
  }
  if (within(s.last_interaction_at(), cfg.intent_nurturing_days())) {
    if (reason) {
      *reason = absl::StrCat("last interaction ", in.DaysSince(s.last_interaction_at()),
                             " days ago, within ", cfg.intent_nurturing_days(),
                             "; no conversion, contract, inquiry or target flag");
    }
    return "C";
  }
  if (reason) {
    *reason = absl::StrFormat(
        "no conversion within %d days, no active contract, no inbound call within %d days, "
        "not strategic, no opportunity in progress within %d days, no interaction within %d "
        "days",
        cfg.intent_converted_days(), cfg.intent_inquiry_days(), cfg.intent_target_days(),
        cfg.intent_nurturing_days());
  }
  return "D";
}

// --- Relationship kind ----------------------------------------------------------------

std::string_view DecideRelationshipKind(const Inputs& in, std::string* reason) {
  const auto& cfg = in.config;
  const CustomerState& s = in.state;
  int key_contacts = 0;
  bool levels[4] = {};
  for (const auto& contact : s.contacts()) {
    if (ContactRelationshipKind(contact) == "key") ++key_contacts;
    const int level = static_cast<int>(contact.level());
    if (level >= 1 && level <= 3) levels[level] = true;
  }
  const int distinct_levels = int{levels[1]} + int{levels[2]} + int{levels[3]};
  if (s.active_contracts_size() >= cfg.organizational_min_active_contracts() &&
      distinct_levels >= cfg.organizational_min_contact_levels()) {
    if (reason) {
      *reason = absl::StrCat(Many(s.active_contracts_size(), "active contract"), " (min ",
                             cfg.organizational_min_active_contracts(), ") and contacts at ",
                             distinct_levels, " levels (min ",
                             cfg.organizational_min_contact_levels(), ")");
    }
    return "organizational";
  }
  if (key_contacts > 0) {
    if (reason) {
      *reason = absl::StrCat(Many(key_contacts, "key contact"),
                             " (decision maker or executive); not organizational: ",
                             Many(s.active_contracts_size(), "active contract"), ", contacts at ",
                             distinct_levels, " levels");
    }
    return "key";
  }
  if (reason) {
    *reason = s.contacts_size() == 0
                  ? std::string("no contact known")
                  : absl::StrCat("no key contact among ", Many(s.contacts_size(), "contact"));
  }
  return "general";
}

// --- The Classes fields, in field order -----------------------------------------------

struct Field {
  const char* name;  // the guanxi.v1.Classes field name
  std::string_view (*get)(const Classes&);
  void (*set)(Classes&, std::string_view);
  Decide decide;
};

std::string_view ScoreText(int32_t score) {
  return score >= 1 && score <= 5 ? kScores[score] : kScores[0];
}
int32_t ScoreOf(std::string_view text) { return text.empty() ? 0 : text[0] - '0'; }

#define GUANXI_STRING_FIELD(field, decide)                                                         \
  Field {                                                                                          \
#field,                                                                                        \
        [](const Classes& c)                                                                       \
             -> std::                                                                              \
                 string_view { return c.field(); },                                                \
                                                 [](Classes & c,                                   \
                                                    std::string_view                               \
                                                        v) { c.set_##field(std::string(v)); },     \
                                                                                            decide \
  }
#define GUANXI_SCORE_FIELD(field, decide)                                                          \
  Field {                                                                                          \
#field, [](const Classes&                                                                      \
                   c) { return ScoreText(c.field()); },                                            \
                                                     [](Classes & c,                               \
                                                        std::string_view                           \
                                                            v) { c.set_##field(ScoreOf(v)); },     \
                                                                                            decide \
  }

const Field kFields[] = {
    GUANXI_STRING_FIELD(abc, DecideAbc),
    GUANXI_SCORE_FIELD(rfm_recency, DecideRecency),
    GUANXI_SCORE_FIELD(rfm_frequency, DecideFrequency),
    GUANXI_SCORE_FIELD(rfm_monetary, DecideMonetary),
    GUANXI_STRING_FIELD(rfm_segment, DecideSegment),
    GUANXI_STRING_FIELD(transaction_quadrant, DecideQuadrant),
    GUANXI_STRING_FIELD(value_tier, DecideValue),
    GUANXI_STRING_FIELD(potential_tier, DecidePotential),
    GUANXI_STRING_FIELD(loyalty_tier, DecideLoyalty),
    GUANXI_STRING_FIELD(development_matrix, DecideDevelopment),
    GUANXI_STRING_FIELD(intent_class, DecideIntent),
    GUANXI_STRING_FIELD(relationship_kind, DecideRelationshipKind),
};

#undef GUANXI_STRING_FIELD
#undef GUANXI_SCORE_FIELD

// P(alive) and the purchases expected in the next 90 days from the BG/NBD model; both
// 0 without a model or a purchase (and when the model cannot evaluate the history).
void UpdateBgNbd(const guanxi::v1::ModelRecord* model, CustomerState& state, const Timestamp& at) {
  double p_alive = 0, expected = 0;
  if (model != nullptr && model->has_bgnbd() && model->bgnbd().time_unit_days() > 0) {
    const auto& m = model->bgnbd();
    const BgNbdParams params{m.r(), m.alpha(), m.a(), m.b()};
    if (const auto history = PurchaseHistoryOf(state, at, m.time_unit_days())) {
      const double p = ProbabilityAlive(params, *history);
      if (std::isfinite(p)) p_alive = p;
      const absl::StatusOr<double> e =
          ExpectedPurchases(params, *history, kExpectationDays / m.time_unit_days());
      if (e.ok() && std::isfinite(*e)) expected = *e;
    }
  }
  state.set_p_alive(p_alive);
  state.set_expected_purchases_90d(expected);
}

}  // namespace

std::string_view ContactRelationshipKind(const guanxi::v1::Contact& contact) {
  return contact.role() == guanxi::v1::CONTACT_ROLE_DECISION_MAKER ||
                 contact.level() == guanxi::v1::CONTACT_LEVEL_EXECUTIVE
             ? "key"
             : "general";
}

void BookkeepClassification(CustomerState& state, const Event& event) {
  const Timestamp& t = event.occurred_at();
  switch (event.payload_case()) {
    case Event::kProfile: {
      const auto& profile = event.profile();
      if (profile.has_potential_estimate()) {
        state.set_potential_estimate_minor(profile.potential_estimate().minor_units());
      }
      if (profile.has_strategic()) state.set_strategic(profile.strategic());
      break;
    }
    case Event::kComplaint:
      state.set_complaints(state.complaints() + 1);
      break;
    case Event::kOrder:
      if (event.order().kind() != guanxi::v1::ORDER_KIND_CANCELLATION) {
        SetMax(*state.mutable_last_conversion_at(), t);
      }
      break;
    case Event::kContract:
      switch (event.contract().milestone()) {
        case guanxi::v1::CONTRACT_MILESTONE_KIND_SIGNED:
          SetMax(*state.mutable_last_conversion_at(), t);
          break;
        case guanxi::v1::CONTRACT_MILESTONE_KIND_RENEWED:
          SetMax(*state.mutable_last_conversion_at(), t);
          state.set_contracts_renewed(state.contracts_renewed() + 1);
          break;
        case guanxi::v1::CONTRACT_MILESTONE_KIND_TERMINATED:
          state.set_contracts_terminated(state.contracts_terminated() + 1);
          break;
        default:
          break;
      }
      break;
    case Event::kOpportunity: {
      const auto stage = event.opportunity().stage();
      if (stage == guanxi::v1::OPPORTUNITY_STAGE_WON) {
        SetMax(*state.mutable_last_conversion_at(), t);
      } else if (stage >= guanxi::v1::OPPORTUNITY_STAGE_DISCOVERY &&
                 stage <= guanxi::v1::OPPORTUNITY_STAGE_COLLECTION) {
        SetMax(*state.mutable_last_open_opportunity_at(), t);
      }
      break;
    }
    case Event::kCall:
      if (event.call().direction() == guanxi::v1::CALL_DIRECTION_INBOUND) {
        SetMax(*state.mutable_last_inbound_call_at(), t);
      }
      break;
    default:
      break;
  }
}

std::vector<guanxi::v1::RelationshipChange> Classify(const ClassificationConfig& config,
                                                     const guanxi::v1::ModelRecord* model,
                                                     CustomerState& state, const Timestamp& now,
                                                     uint64_t position) {
  std::vector<guanxi::v1::RelationshipChange> changes;
  if (state.dimensions_size() == 0) return changes;  // no event applied yet
  const Timestamp& at = Before(now, state.as_of()) ? state.as_of() : now;

  for (auto& contact : *state.mutable_contacts()) {
    const std::string_view kind = ContactRelationshipKind(contact);
    if (contact.relationship_kind() != kind) contact.set_relationship_kind(std::string(kind));
  }
  UpdateBgNbd(model, state, at);

  const Inputs in{config,
                  model,
                  state,
                  UtcDay(at),
                  RfmFiguresOf(state, at),
                  Trailing(state, at, kClassWindowMonths),
                  Trailing(state, at, 6)};
  for (const Field& field : kFields) {
    const std::string_view to = field.decide(in, nullptr);
    const std::string_view from = field.get(state.classes());
    if (to == from) continue;
    guanxi::v1::RelationshipChange change;
    change.set_change_id(absl::StrCat(state.customer_id(), "/", position, "/class/", field.name));
    change.set_customer_id(state.customer_id());
    change.set_position(position);
    *change.mutable_event_time() = now;
    auto& class_change = *change.mutable_class_change();
    class_change.set_classification(field.name);
    class_change.set_from(std::string(from));
    class_change.set_to(std::string(to));
    field.decide(in, class_change.mutable_reason());
    field.set(*state.mutable_classes(), to);
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace guanxi::projections
