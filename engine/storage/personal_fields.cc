#include "engine/storage/personal_fields.h"

#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "guanxi/v1/options.pb.h"

namespace guanxi::engine {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsPersonal(const FieldDescriptor* field) {
  return field->options().GetExtension(guanxi::v1::personal);
}

bool IsMessage(const FieldDescriptor* field) {
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
}

bool IsSet(const Message& message, const FieldDescriptor* field) {
  const Reflection* reflection = message.GetReflection();
  return field->is_repeated() ? reflection->FieldSize(message, field) > 0
                              : reflection->HasField(message, field);
}

// A message type's fields that are personal, and its singular message fields whose type
// has personal fields (at any depth): where HasPersonal and SplitPersonal look, found once
// per type (the protos do not change while the engine runs) instead of listing every
// field set in every event.
struct PersonalFields {
  std::vector<const FieldDescriptor*> personal;
  std::vector<const FieldDescriptor*> leading;
};

using PersonalFieldsByType =
    std::unordered_map<const Descriptor*, std::unique_ptr<PersonalFields>>;

// Depth first, under the caller's lock. A type met again while its own fields are being
// found (a recursive message) counts as having none: what its entry says until then.
const PersonalFields& FindPersonalFields(const Descriptor* type, PersonalFieldsByType& known) {
  if (auto it = known.find(type); it != known.end()) return *it->second;
  PersonalFields& fields = *known.emplace(type, std::make_unique<PersonalFields>()).first->second;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (IsPersonal(field)) {
      fields.personal.push_back(field);
    } else if (IsMessage(field) && !field->is_repeated()) {
      const PersonalFields& nested = FindPersonalFields(field->message_type(), known);
      if (!nested.personal.empty() || !nested.leading.empty()) fields.leading.push_back(field);
    }
  }
  return fields;
}

const PersonalFields& PersonalFieldsOf(const Descriptor* type) {
  // What this thread has asked for before, without the lock (every append asks for each
  // type of its events, several times).
  thread_local std::unordered_map<const Descriptor*, const PersonalFields*> seen;
  if (auto it = seen.find(type); it != seen.end()) return *it->second;
  static absl::Mutex mu(absl::kConstInit);
  // Never destroyed (any thread may read an entry until the process ends); an entry, once
  // made under `mu`, never changes.
  static auto* known = new PersonalFieldsByType();
  absl::MutexLock lock(&mu);
  const PersonalFields& fields = FindPersonalFields(type, *known);
  seen.emplace(type, &fields);
  return fields;
}

// Moves the personal fields set in `from`, and the singular messages leading to them,
// into `to` (of the same type, holding none of them); whether any was set. Looks only
// where a personal field can be (PersonalFieldsOf), as HasPersonal does.
bool MovePersonal(Message& from, Message& to) {
  const PersonalFields& fields = PersonalFieldsOf(from.GetDescriptor());
  const Reflection* reflection = from.GetReflection();
  std::vector<const FieldDescriptor*> set;
  for (const FieldDescriptor* field : fields.personal) {
    if (IsSet(from, field)) set.push_back(field);
  }
  // Swapped with fields `to` does not have: `from` is left without them, presence and all
  // (a present-but-empty optional field moves as present).
  reflection->SwapFields(&from, &to, set);
  bool any = !set.empty();
  for (const FieldDescriptor* field : fields.leading) {
    if (!reflection->HasField(from, field) ||
        !HasPersonal(reflection->GetMessage(from, field))) {
      continue;
    }
    MovePersonal(*reflection->MutableMessage(&from, field),
                 *reflection->MutableMessage(&to, field));
    any = true;
  }
  return any;
}

}  // namespace

bool HasPersonal(const Message& message) {
  const PersonalFields& fields = PersonalFieldsOf(message.GetDescriptor());
  const Reflection* reflection = message.GetReflection();
  for (const FieldDescriptor* field : fields.personal) {
    if (IsSet(message, field)) return true;
  }
  for (const FieldDescriptor* field : fields.leading) {
    if (reflection->HasField(message, field) &&
        HasPersonal(reflection->GetMessage(message, field))) {
      return true;
    }
  }
  return false;
}

bool SplitPersonal(guanxi::v1::Event& event, guanxi::v1::Event& personal) {
  personal.Clear();
  return MovePersonal(event, personal);
}

bool ClearPersonal(Message& message) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  bool cleared = false;
  for (const FieldDescriptor* field : fields) {
    if (IsPersonal(field)) {
      reflection->ClearField(&message, field);
      cleared = true;
    } else if (IsMessage(field) && field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        cleared |= ClearPersonal(*reflection->MutableRepeatedMessage(&message, field, i));
      }
    } else if (IsMessage(field)) {
      cleared |= ClearPersonal(*reflection->MutableMessage(&message, field));
    }
  }
  return cleared;
}

}  // namespace guanxi::engine
