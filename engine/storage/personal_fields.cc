#include "engine/storage/personal_fields.h"

#include <vector>

#include "google/protobuf/descriptor.h"
#include "guanxi/v1/options.pb.h"

namespace guanxi::engine {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsPersonal(const FieldDescriptor* field) {
  return field->options().GetExtension(guanxi::v1::personal);
}

bool IsMessage(const FieldDescriptor* field) {
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
}

// Keeps in `message` only the personal fields set (and the singular messages leading to
// them); whether any is left.
bool KeepOnlyPersonal(Message& message) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  bool any = false;
  for (const FieldDescriptor* field : fields) {
    if (IsPersonal(field)) {
      any = true;
      continue;
    }
    if (IsMessage(field) && !field->is_repeated() &&
        KeepOnlyPersonal(*reflection->MutableMessage(&message, field))) {
      any = true;
      continue;
    }
    reflection->ClearField(&message, field);
  }
  return any;
}

}  // namespace

bool HasPersonal(const Message& message) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (IsPersonal(field)) return true;
    if (IsMessage(field) && !field->is_repeated() &&
        HasPersonal(reflection->GetMessage(message, field))) {
      return true;
    }
  }
  return false;
}

bool SplitPersonal(guanxi::v1::Event& event, guanxi::v1::Event& personal) {
  personal = event;
  if (!KeepOnlyPersonal(personal)) {
    personal.Clear();
    return false;
  }
  ClearPersonal(event);
  return true;
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
