#include "ferry/api/v2/codec.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace ferry::api::v2 {
namespace {

using json = nlohmann::json;
using serving::DataType;
using serving::InferRequest;
using serving::RequestedOutput;
using serving::Tensor;

// Deepest container nesting accepted anywhere in a request (parameters,
// ignored fields). RequestParser enforces it, so the error names the input
// and comes in document order; it also bounds the depth of the DOMs we build.
constexpr int kMaxJsonDepth = 64;
// Deepest nesting simdjson accepts, i.e. the bound on DomWalker's recursion
// (one small stack frame per level). Deeper than kMaxJsonDepth so that
// documents between the two reach RequestParser, whose error is the precise
// one (with the input's name, after any earlier error in the document);
// deeper documents are refused by simdjson before the walk, with the same
// message but no context.
constexpr int kMaxWalkDepth = 2 * kMaxJsonDepth;
// JSON parts up to this size are parsed by a per-thread simdjson parser that
// keeps its buffers (about 15 bytes per JSON byte: tape, string copies,
// structural indexes, padded input copy); bigger ones by a parser of their
// own, so no thread holds on to a huge buffer.
constexpr size_t kReusedParserMaxBytes = size_t{1} << 20;
// Client-supplied text quoted in error messages is cut to this length.
constexpr size_t kMaxQuotedChars = 128;

std::string Quote(std::string_view text) {
  if (text.size() <= kMaxQuotedChars) return std::string(text);
  return absl::StrCat(std::string(text.substr(0, kMaxQuotedChars)), "...");
}

// ---------------------------------------------------------------------------
// JSON scalars to packed tensor elements.

// One JSON scalar as the SAX parser reports it. `s` is only valid during the
// callback that produced it.
struct Scalar {
  enum class Kind : uint8_t { kNull, kBool, kInt, kUint, kFloat, kString };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view s;
};

enum class Conversion { kOk, kWrongType, kOutOfRange };

template <typename T>
void AppendRaw(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

template <typename T>
Conversion AppendInteger(const Scalar& v, std::string* out) {
  if (v.kind == Scalar::Kind::kInt) {
    if (!std::in_range<T>(v.i)) return Conversion::kOutOfRange;
    AppendRaw(out, static_cast<T>(v.i));
    return Conversion::kOk;
  }
  if (v.kind == Scalar::Kind::kUint) {
    if (!std::in_range<T>(v.u)) return Conversion::kOutOfRange;
    AppendRaw(out, static_cast<T>(v.u));
    return Conversion::kOk;
  }
  return Conversion::kWrongType;
}

bool AsDouble(const Scalar& v, double* d) {
  switch (v.kind) {
    case Scalar::Kind::kInt:
      *d = static_cast<double>(v.i);
      return true;
    case Scalar::Kind::kUint:
      *d = static_cast<double>(v.u);
      return true;
    case Scalar::Kind::kFloat:
      *d = v.d;
      return true;
    default:
      return false;
  }
}

Conversion AppendElement(DataType type, const Scalar& v, std::string* out) {
  double d;
  switch (type) {
    case DataType::kBool:
      if (v.kind != Scalar::Kind::kBool) return Conversion::kWrongType;
      out->push_back(v.b ? 1 : 0);
      return Conversion::kOk;
    case DataType::kUint8:
      return AppendInteger<uint8_t>(v, out);
    case DataType::kUint16:
      return AppendInteger<uint16_t>(v, out);
    case DataType::kUint32:
      return AppendInteger<uint32_t>(v, out);
    case DataType::kUint64:
      return AppendInteger<uint64_t>(v, out);
    case DataType::kInt8:
      return AppendInteger<int8_t>(v, out);
    case DataType::kInt16:
      return AppendInteger<int16_t>(v, out);
    case DataType::kInt32:
      return AppendInteger<int32_t>(v, out);
    case DataType::kInt64:
      return AppendInteger<int64_t>(v, out);
    case DataType::kFp16: {
      if (!AsDouble(v, &d)) return Conversion::kWrongType;
      const uint16_t half = serving::DoubleToHalf(d);
      if ((half & 0x7fff) == 0x7c00) return Conversion::kOutOfRange;
      AppendRaw(out, half);
      return Conversion::kOk;
    }
    case DataType::kFp32: {
      if (!AsDouble(v, &d)) return Conversion::kWrongType;
      const auto f = static_cast<float>(d);
      if (std::isinf(f)) return Conversion::kOutOfRange;
      AppendRaw(out, f);
      return Conversion::kOk;
    }
    case DataType::kFp64:
      if (!AsDouble(v, &d)) return Conversion::kWrongType;
      AppendRaw(out, d);
      return Conversion::kOk;
    case DataType::kBytes:
      if (v.kind != Scalar::Kind::kString) return Conversion::kWrongType;
      if (v.s.size() > std::numeric_limits<uint32_t>::max()) return Conversion::kOutOfRange;
      AppendRaw(out, static_cast<uint32_t>(v.s.size()));
      out->append(v.s);
      return Conversion::kOk;
  }
  return Conversion::kWrongType;
}

std::string_view ExpectedKind(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "a boolean";
    case DataType::kFp16:
    case DataType::kFp32:
    case DataType::kFp64:
      return "a number";
    case DataType::kBytes:
      return "a string";
    default:
      return "an integer";
  }
}

std::string DescribeScalar(const Scalar& v) {
  switch (v.kind) {
    case Scalar::Kind::kNull:
      return "null";
    case Scalar::Kind::kBool:
      return v.b ? "true" : "false";
    case Scalar::Kind::kInt:
      return std::to_string(v.i);
    case Scalar::Kind::kUint:
      return std::to_string(v.u);
    case Scalar::Kind::kFloat: {
      char buf[32];
      auto result = std::to_chars(buf, buf + sizeof(buf), v.d);
      return std::string(buf, result.ptr);
    }
    case Scalar::Kind::kString:
      return "a string";
  }
  return "a value";
}

std::string ElementError(Conversion conversion, DataType type, const Scalar& v, int64_t index) {
  const std::string type_name(serving::DataTypeName(type));
  if (conversion == Conversion::kOutOfRange) {
    return absl::StrCat("'data' element ", index, ": value ", DescribeScalar(v),
                        " is out of range for ", type_name);
  }
  return absl::StrCat("'data' element ", index, ": expected ", std::string(ExpectedKind(type)),
                      " for ", type_name, ", got ", DescribeScalar(v));
}

// ---------------------------------------------------------------------------
// Builds a nlohmann DOM from SAX events, for "parameters" objects.

class DomBuilder {
 public:
  // Starts an object at `*root`.
  void Begin(json* root) {
    *root = json::object();
    stack_.assign(1, root);
  }
  void StartObject() { stack_.push_back(Insert(json::object())); }
  void StartArray() { stack_.push_back(Insert(json::array())); }
  void End() { stack_.pop_back(); }
  void Key(std::string key) { key_ = std::move(key); }
  void Value(json value) { Insert(std::move(value)); }

 private:
  // Pointers on the stack stay valid: only the innermost container grows,
  // and its own children are never on the stack while it does.
  json* Insert(json value) {
    json& parent = *stack_.back();
    if (parent.is_array()) {
      auto& array = parent.get_ref<json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  std::vector<json*> stack_;
  std::string key_;
};

// ---------------------------------------------------------------------------
// The request decoder: a SAX handler (nlohmann's interface) that writes
// tensor elements straight into Tensor::data, so no nlohmann DOM is built for
// "data"; only "parameters" objects become DOMs. DomWalker drives it from
// simdjson's parse of the body (ParseRequestJson).

class RequestParser {
 public:
  RequestParser(const DecodeLimits& limits, size_t json_size, InferRequest* request)
      : limits_(limits),
        max_data_depth_(static_cast<int>(std::clamp<size_t>(limits.max_dims, 1, kMaxJsonDepth))),
        json_size_(json_size),
        request_(request) {
    frames_.reserve(8);
  }

  // nlohmann SAX interface.
  bool null() { return OnScalar(Scalar{}, nullptr); }
  bool boolean(bool value) {
    Scalar v;
    v.kind = Scalar::Kind::kBool;
    v.b = value;
    return OnScalar(v, nullptr);
  }
  bool number_integer(json::number_integer_t value) {
    Scalar v;
    v.kind = Scalar::Kind::kInt;
    v.i = value;
    return OnScalar(v, nullptr);
  }
  bool number_unsigned(json::number_unsigned_t value) {
    Scalar v;
    v.kind = Scalar::Kind::kUint;
    v.u = value;
    return OnScalar(v, nullptr);
  }
  bool number_float(json::number_float_t value, const json::string_t& /*text*/) {
    Scalar v;
    v.kind = Scalar::Kind::kFloat;
    v.d = value;
    return OnScalar(v, nullptr);
  }
  bool string(json::string_t& value) {
    Scalar v;
    v.kind = Scalar::Kind::kString;
    v.s = value;
    return OnScalar(v, &value);
  }
  bool binary(json::binary_t& /*value*/) { return Fail("unexpected binary value"); }
  bool start_object(std::size_t /*elements*/);
  bool key(json::string_t& key);
  bool end_object();
  bool start_array(std::size_t /*elements*/);
  bool end_array();
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const json::exception& ex);

  const std::string& error() const { return error_; }

  // After a successful parse: attaches the binary section to the inputs that
  // declared binary_data_size and checks it is consumed exactly.
  absl::Status AttachBinary(std::string_view binary);

 private:
  enum class Mode : uint8_t {
    kNormal,
    kDom,   // building a "parameters" object
    kSkip,  // inside an ignored field's value
    // An error occurred inside an input whose "name" has not been seen yet:
    // keep scanning that input object for its name, then report.
    kFailedInput,
  };
  enum class Frame : uint8_t { kTop, kInputs, kInput, kShape, kData, kOutputs, kOutput };
  // Which field the next value belongs to, inside an object frame.
  enum class Slot : uint8_t {
    kIgnore,
    kId,
    kParameters,
    kInputs,
    kOutputs,
    kName,
    kShape,
    kDatatype,
    kData
  };

  bool OnScalar(const Scalar& v, json::string_t* text);

  bool BeginInput();
  bool EndInput();
  bool BeginOutput();
  bool EndOutput();
  bool EndTop();
  bool BeginData();
  bool DataArray();
  bool EndDataArray();
  bool DataElement(const Scalar& v);
  bool ConvertPending(Tensor& input);
  bool ShapeDim(const Scalar& v);
  bool EndShape();
  bool BeginSkip() {
    mode_ = Mode::kSkip;
    skip_base_ = depth_ - 1;
    return true;
  }
  bool BeginDom(Frame frame) {
    json* target = frame == Frame::kTop     ? &request_->parameters
                   : frame == Frame::kInput ? &input_->parameters
                                            : &output_->parameters;
    mode_ = Mode::kDom;
    skip_base_ = depth_ - 1;
    dom_.Begin(target);
    return true;
  }
  bool EndContainerInMode() {
    switch (mode_) {
      case Mode::kFailedInput:
        if (depth_ == input_depth_ - 1) {
          error_ = absl::StrCat(Context(), pending_error_);
          return false;
        }
        return true;
      case Mode::kDom:
        dom_.End();
        [[fallthrough]];
      case Mode::kSkip:
        if (depth_ == skip_base_) mode_ = Mode::kNormal;
        return true;
      case Mode::kNormal:
        break;
    }
    return true;
  }

  std::string Context() const {
    if (in_input_) {
      return input_->name.empty() ? absl::StrCat("inputs[", request_->inputs.size() - 1, "]: ")
                                  : absl::StrCat("input '", Quote(input_->name), "': ");
    }
    if (in_output_) {
      return output_->name.empty() ? absl::StrCat("outputs[", request_->outputs.size() - 1, "]: ")
                                   : absl::StrCat("output '", Quote(output_->name), "': ");
    }
    return "";
  }

  // Records an error for the current context. Returns false (stop parsing),
  // except inside an input that has no name yet: then parsing continues in
  // kFailedInput mode so the message can name the input.
  bool Fail(std::string_view message) {
    if (in_input_ && input_->name.empty() && mode_ != Mode::kFailedInput) {
      pending_error_ = std::string(message);
      mode_ = Mode::kFailedInput;
      capture_name_ = false;
      return true;
    }
    error_ = absl::StrCat(Context(), std::string(message));
    return false;
  }

  bool FailSlotType() {
    switch (slot_) {
      case Slot::kId:
        return Fail("'id' must be a string");
      case Slot::kParameters:
        return Fail("'parameters' must be an object");
      case Slot::kInputs:
        return Fail("'inputs' must be an array of objects");
      case Slot::kOutputs:
        return Fail("'outputs' must be an array of objects");
      case Slot::kName:
        return Fail("'name' must be a non-empty string");
      case Slot::kShape:
        return Fail("'shape' must be an array of integers");
      case Slot::kDatatype:
        return Fail("'datatype' must be a string");
      case Slot::kData:
        return Fail("'data' must be an array");
      case Slot::kIgnore:
        break;
    }
    return true;
  }

  const DecodeLimits& limits_;
  const int max_data_depth_;
  const size_t json_size_;
  InferRequest* request_;

  Mode mode_ = Mode::kNormal;
  std::vector<Frame> frames_;
  Slot slot_ = Slot::kIgnore;
  int depth_ = 0;      // open containers, in every mode
  int skip_base_ = 0;  // depth_ at which kSkip / kDom ends
  DomBuilder dom_;
  uint32_t top_seen_ = 0;     // Slot bits of the top object's fields
  uint32_t object_seen_ = 0;  // Slot bits of the current input / output
  std::string error_;

  // Current input.
  bool in_input_ = false;
  Tensor* input_ = nullptr;
  int input_depth_ = 0;
  std::optional<DataType> datatype_;
  bool has_shape_ = false;
  int64_t shape_elements_ = 0;
  bool has_data_ = false;
  int data_depth_ = 0;
  int leaf_depth_ = 0;             // depth of the first scalar in "data"; 0 before
  int max_open_ = 0;               // deepest array opened in "data"
  std::vector<int64_t> counts_;    // children seen per open depth
  std::vector<int64_t> expected_;  // common length of arrays per depth, -1 unknown
  int64_t elements_ = 0;
  // "data" elements seen before the input's "datatype" (clients that sort
  // keys send "data" first), compactly: the kind and the value's bits (for
  // strings, the offset of the element in pending_strings_, which holds
  // them in BYTES layout so an all-string buffer becomes the tensor as is).
  std::vector<Scalar::Kind> pending_kinds_;
  std::vector<uint64_t> pending_values_;
  std::string pending_strings_;
  bool pending_all_strings_ = true;
  std::string pending_error_;
  bool capture_name_ = false;
  std::vector<int64_t> binary_sizes_;  // per input; -1 when the data is JSON

  // Current output.
  bool in_output_ = false;
  RequestedOutput* output_ = nullptr;
};

bool RequestParser::start_object(std::size_t /*elements*/) {
  if (mode_ == Mode::kFailedInput) {
    ++depth_;
    capture_name_ = false;
    return true;
  }
  if (++depth_ > kMaxJsonDepth) {
    return Fail(absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  if (mode_ == Mode::kDom) {
    dom_.StartObject();
    return true;
  }
  if (mode_ == Mode::kSkip) return true;
  if (frames_.empty()) {
    frames_.push_back(Frame::kTop);
    return true;
  }
  switch (frames_.back()) {
    case Frame::kInputs:
      return BeginInput();
    case Frame::kOutputs:
      return BeginOutput();
    case Frame::kShape:
      return Fail("'shape' must be an array of integers");
    case Frame::kData:
      return Fail(absl::StrCat("'data' element ", elements_, ": objects are not tensor data"));
    case Frame::kTop:
    case Frame::kInput:
    case Frame::kOutput:
      break;
  }
  if (slot_ == Slot::kIgnore) return BeginSkip();
  if (slot_ == Slot::kParameters) return BeginDom(frames_.back());
  return FailSlotType();
}

bool RequestParser::start_array(std::size_t /*elements*/) {
  if (mode_ == Mode::kFailedInput) {
    ++depth_;
    capture_name_ = false;
    return true;
  }
  if (++depth_ > kMaxJsonDepth) {
    return Fail(absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  if (mode_ == Mode::kDom) {
    dom_.StartArray();
    return true;
  }
  if (mode_ == Mode::kSkip) return true;
  if (frames_.empty()) return Fail("the request body must be a JSON object");
  switch (frames_.back()) {
    case Frame::kData:
      return DataArray();
    case Frame::kShape:
      return Fail("'shape' must be an array of integers");
    case Frame::kInputs:
      return Fail("'inputs' must be an array of objects");
    case Frame::kOutputs:
      return Fail("'outputs' must be an array of objects");
    case Frame::kTop:
    case Frame::kInput:
    case Frame::kOutput:
      break;
  }
  switch (slot_) {
    case Slot::kIgnore:
      return BeginSkip();
    case Slot::kInputs:
      frames_.push_back(Frame::kInputs);
      return true;
    case Slot::kOutputs:
      frames_.push_back(Frame::kOutputs);
      return true;
    case Slot::kShape:
      frames_.push_back(Frame::kShape);
      return true;
    case Slot::kData:
      return BeginData();
    default:
      return FailSlotType();
  }
}

bool RequestParser::end_object() {
  --depth_;
  if (mode_ != Mode::kNormal) return EndContainerInMode();
  const Frame frame = frames_.back();
  frames_.pop_back();
  switch (frame) {
    case Frame::kTop:
      return EndTop();
    case Frame::kInput:
      return EndInput();
    case Frame::kOutput:
      return EndOutput();
    default:
      return true;  // unreachable: only object frames close with '}'
  }
}

bool RequestParser::end_array() {
  --depth_;
  if (mode_ != Mode::kNormal) return EndContainerInMode();
  const Frame frame = frames_.back();
  if (frame == Frame::kData) return EndDataArray();
  frames_.pop_back();
  if (frame == Frame::kShape) return EndShape();
  return true;
}

bool RequestParser::key(json::string_t& key) {
  switch (mode_) {
    case Mode::kFailedInput:
      capture_name_ = depth_ == input_depth_ && key == "name";
      return true;
    case Mode::kDom:
      dom_.Key(std::move(key));
      return true;
    case Mode::kSkip:
      return true;
    case Mode::kNormal:
      break;
  }
  const Frame frame = frames_.back();
  Slot slot = Slot::kIgnore;
  if (key == "parameters") {
    slot = Slot::kParameters;
  } else if (frame == Frame::kTop) {
    if (key == "id") {
      slot = Slot::kId;
    } else if (key == "inputs") {
      slot = Slot::kInputs;
    } else if (key == "outputs") {
      slot = Slot::kOutputs;
    }
  } else if (key == "name") {
    slot = Slot::kName;
  } else if (frame == Frame::kInput) {
    if (key == "data") {
      slot = Slot::kData;
    } else if (key == "shape") {
      slot = Slot::kShape;
    } else if (key == "datatype") {
      slot = Slot::kDatatype;
    }
  }
  if (slot != Slot::kIgnore) {
    const uint32_t bit = 1u << static_cast<int>(slot);
    uint32_t& seen = frame == Frame::kTop ? top_seen_ : object_seen_;
    if ((seen & bit) != 0) return Fail(absl::StrCat("duplicate field '", key, "'"));
    seen |= bit;
  }
  slot_ = slot;
  return true;
}

bool RequestParser::OnScalar(const Scalar& v, json::string_t* text) {
  switch (mode_) {
    case Mode::kFailedInput:
      if (capture_name_ && v.kind == Scalar::Kind::kString) input_->name = std::move(*text);
      capture_name_ = false;
      return true;
    case Mode::kDom:
      switch (v.kind) {
        case Scalar::Kind::kNull:
          dom_.Value(nullptr);
          break;
        case Scalar::Kind::kBool:
          dom_.Value(v.b);
          break;
        case Scalar::Kind::kInt:
          dom_.Value(v.i);
          break;
        case Scalar::Kind::kUint:
          dom_.Value(v.u);
          break;
        case Scalar::Kind::kFloat:
          dom_.Value(v.d);
          break;
        case Scalar::Kind::kString:
          dom_.Value(std::move(*text));
          break;
      }
      return true;
    case Mode::kSkip:
      return true;
    case Mode::kNormal:
      break;
  }
  if (frames_.empty()) return Fail("the request body must be a JSON object");
  switch (frames_.back()) {
    case Frame::kData:
      return DataElement(v);
    case Frame::kShape:
      return ShapeDim(v);
    case Frame::kInputs:
      return Fail("'inputs' must be an array of objects");
    case Frame::kOutputs:
      return Fail("'outputs' must be an array of objects");
    case Frame::kTop:
    case Frame::kInput:
    case Frame::kOutput:
      break;
  }
  const bool is_string = v.kind == Scalar::Kind::kString;
  switch (slot_) {
    case Slot::kIgnore:
      return true;
    case Slot::kId:
      if (!is_string) return FailSlotType();
      request_->id = std::move(*text);
      return true;
    case Slot::kParameters:
      // null is the same as absent.
      return v.kind == Scalar::Kind::kNull ? true : FailSlotType();
    case Slot::kName:
      if (!is_string || v.s.empty()) return FailSlotType();
      if (frames_.back() == Frame::kInput) {
        input_->name = std::move(*text);
      } else {
        output_->name = std::move(*text);
      }
      return true;
    case Slot::kDatatype: {
      if (!is_string) return FailSlotType();
      std::optional<DataType> type = serving::ParseDataType(v.s);
      if (!type.has_value()) {
        return Fail(absl::StrCat("unsupported datatype '", Quote(v.s), "'"));
      }
      datatype_ = type;
      return true;
    }
    default:
      return FailSlotType();
  }
}

bool RequestParser::BeginInput() {
  if (request_->inputs.size() >= limits_.max_tensors) {
    return Fail(absl::StrCat("'inputs' has more than ", limits_.max_tensors,
                             " entries (limit max_tensors)"));
  }
  input_ = &request_->inputs.emplace_back();
  frames_.push_back(Frame::kInput);
  in_input_ = true;
  input_depth_ = depth_;
  object_seen_ = 0;
  datatype_.reset();
  has_shape_ = false;
  shape_elements_ = 0;
  has_data_ = false;
  data_depth_ = 0;
  leaf_depth_ = 0;
  max_open_ = 0;
  elements_ = 0;
  pending_kinds_.clear();
  pending_values_.clear();
  pending_strings_.clear();
  pending_all_strings_ = true;
  return true;
}

bool RequestParser::EndInput() {
  Tensor& input = *input_;
  const size_t index = request_->inputs.size() - 1;
  if (input.name.empty()) {
    error_ = absl::StrCat("inputs[", index, "]: missing 'name'");
    return false;
  }
  // From here on Fail() reports immediately: the input has a name.
  for (size_t i = 0; i < index; ++i) {
    if (request_->inputs[i].name == input.name) return Fail("given more than once");
  }
  if (!datatype_.has_value()) return Fail("missing 'datatype'");
  input.datatype = *datatype_;
  if (!has_shape_) return Fail("missing 'shape'");
  if (!pending_kinds_.empty()) {
    if (!ConvertPending(input)) return false;
  }
  int64_t binary_size = -1;
  if (input.parameters.is_object()) {
    auto it = input.parameters.find("binary_data_size");
    if (it != input.parameters.end()) {
      if (!it->is_number_unsigned() ||
          it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail("parameters.binary_data_size must be a non-negative integer");
      }
      binary_size = it->get<int64_t>();
    }
  }
  if (binary_size >= 0) {
    if (has_data_) return Fail("has both 'data' and parameters.binary_data_size");
  } else {
    if (!has_data_) return Fail("missing 'data' (or parameters.binary_data_size)");
    if (elements_ != shape_elements_) {
      return Fail(absl::StrCat("'data' has ", elements_, " elements, shape ",
                               serving::ShapeString(input.shape), " needs ", shape_elements_));
    }
  }
  binary_sizes_.push_back(binary_size);
  in_input_ = false;
  return true;
}

bool RequestParser::BeginOutput() {
  if (request_->outputs.size() >= limits_.max_tensors) {
    return Fail(absl::StrCat("'outputs' has more than ", limits_.max_tensors,
                             " entries (limit max_tensors)"));
  }
  output_ = &request_->outputs.emplace_back();
  frames_.push_back(Frame::kOutput);
  in_output_ = true;
  object_seen_ = 0;
  return true;
}

bool RequestParser::EndOutput() {
  RequestedOutput& output = *output_;
  const size_t index = request_->outputs.size() - 1;
  if (output.name.empty()) {
    error_ = absl::StrCat("outputs[", index, "]: missing 'name'");
    return false;
  }
  for (size_t i = 0; i < index; ++i) {
    if (request_->outputs[i].name == output.name) return Fail("requested more than once");
  }
  if (output.parameters.is_object()) {
    auto it = output.parameters.find("binary_data");
    if (it != output.parameters.end()) {
      if (!it->is_boolean()) return Fail("parameters.binary_data must be a boolean");
      output.binary_data = it->get<bool>();
    }
  }
  in_output_ = false;
  return true;
}

bool RequestParser::EndTop() {
  if ((top_seen_ & (1u << static_cast<int>(Slot::kInputs))) == 0) {
    return Fail("missing 'inputs'");
  }
  const json& parameters = request_->parameters;
  if (!parameters.is_object()) return true;
  if (auto it = parameters.find("binary_data_output"); it != parameters.end()) {
    if (!it->is_boolean()) return Fail("parameters.binary_data_output must be a boolean");
    request_->binary_data_output = it->get<bool>();
  }
  if (auto it = parameters.find("priority"); it != parameters.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
      return Fail("parameters.priority must be an unsigned 32-bit integer");
    }
    request_->priority = it->get<uint32_t>();
  }
  if (auto it = parameters.find("timeout"); it != parameters.end()) {
    if (!it->is_number_unsigned()) {
      return Fail("parameters.timeout must be a non-negative integer (microseconds)");
    }
    request_->timeout_us = it->get<uint64_t>();
  }
  if (auto it = parameters.find("ferry_route_key"); it != parameters.end()) {
    if (!it->is_string()) return Fail("parameters.ferry_route_key must be a string");
    request_->route_key = it->get<std::string>();
  }
  return true;
}

bool RequestParser::ShapeDim(const Scalar& v) {
  int64_t dim;
  if (v.kind == Scalar::Kind::kUint) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Fail(absl::StrCat("'shape' dimension ", v.u, " is too large"));
    }
    dim = static_cast<int64_t>(v.u);
  } else if (v.kind == Scalar::Kind::kInt) {
    if (v.i < 0) return Fail(absl::StrCat("'shape' dimension ", v.i, " is negative"));
    dim = v.i;
  } else {
    return Fail("'shape' must be an array of integers");
  }
  if (input_->shape.size() >= limits_.max_dims) {
    return Fail(
        absl::StrCat("'shape' has more than ", limits_.max_dims, " dimensions (limit max_dims)"));
  }
  input_->shape.push_back(dim);
  return true;
}

bool RequestParser::EndShape() {
  int64_t product = 1;
  for (int64_t dim : input_->shape) {
    if (__builtin_mul_overflow(product, dim, &product) || product > limits_.max_elements) {
      return Fail(absl::StrCat("shape ", serving::ShapeString(input_->shape), " has more than ",
                               limits_.max_elements, " elements (limit max_elements)"));
    }
  }
  has_shape_ = true;
  shape_elements_ = product;
  return true;
}

bool RequestParser::BeginData() {
  frames_.push_back(Frame::kData);
  has_data_ = true;
  data_depth_ = 1;
  max_open_ = 1;
  counts_.assign(max_data_depth_ + 1, 0);
  expected_.assign(max_data_depth_ + 1, -1);
  if (datatype_.has_value() && *datatype_ != DataType::kBytes && has_shape_) {
    // Every JSON element takes at least two bytes ("1,"), so reserving for
    // the declared shape is bounded by the body size.
    const auto elements =
        std::min<uint64_t>(static_cast<uint64_t>(shape_elements_), json_size_ / 2 + 1);
    input_->data.reserve(elements * serving::DataTypeSize(*datatype_));
  }
  return true;
}

bool RequestParser::DataArray() {
  const int depth = data_depth_ + 1;
  if (depth > max_data_depth_) {
    return Fail(absl::StrCat("'data' is nested deeper than ", max_data_depth_, " levels"));
  }
  if (leaf_depth_ != 0 && depth > leaf_depth_) {
    return Fail("'data' is not a rectangular array: values and arrays mixed at one level");
  }
  ++counts_[data_depth_];
  counts_[depth] = 0;
  data_depth_ = depth;
  max_open_ = std::max(max_open_, depth);
  return true;
}

bool RequestParser::EndDataArray() {
  const int depth = data_depth_;
  if (depth == 1) {
    frames_.pop_back();
    data_depth_ = 0;
    return true;
  }
  if (expected_[depth] < 0) {
    expected_[depth] = counts_[depth];
  } else if (expected_[depth] != counts_[depth]) {
    return Fail(absl::StrCat("'data' is not a rectangular array: arrays of length ",
                             expected_[depth], " and ", counts_[depth], " at nesting level ",
                             depth));
  }
  data_depth_ = depth - 1;
  return true;
}

bool RequestParser::DataElement(const Scalar& v) {
  if (max_open_ > data_depth_) {
    return Fail("'data' is not a rectangular array: values and arrays mixed at one level");
  }
  leaf_depth_ = data_depth_;
  ++counts_[data_depth_];
  const int64_t index = elements_++;
  if (elements_ > limits_.max_elements) {
    return Fail(absl::StrCat("'data' has more than ", limits_.max_elements,
                             " elements (limit max_elements)"));
  }
  if (has_shape_ && elements_ > shape_elements_) {
    return Fail(absl::StrCat("'data' has more than ", shape_elements_, " elements, shape ",
                             serving::ShapeString(input_->shape), " needs ", shape_elements_));
  }
  if (datatype_.has_value()) {
    const Conversion conversion = AppendElement(*datatype_, v, &input_->data);
    if (conversion != Conversion::kOk) return Fail(ElementError(conversion, *datatype_, v, index));
    return true;
  }
  uint64_t bits = 0;
  switch (v.kind) {
    case Scalar::Kind::kNull:
      break;
    case Scalar::Kind::kBool:
      bits = v.b ? 1 : 0;
      break;
    case Scalar::Kind::kInt:
      bits = static_cast<uint64_t>(v.i);
      break;
    case Scalar::Kind::kUint:
      bits = v.u;
      break;
    case Scalar::Kind::kFloat:
      bits = std::bit_cast<uint64_t>(v.d);
      break;
    case Scalar::Kind::kString:
      if (v.s.size() > std::numeric_limits<uint32_t>::max()) {
        return Fail(absl::StrCat("'data' element ", index, ": string longer than 4 GiB"));
      }
      bits = pending_strings_.size();
      AppendRaw(&pending_strings_, static_cast<uint32_t>(v.s.size()));
      pending_strings_.append(v.s);
      break;
  }
  if (v.kind != Scalar::Kind::kString) pending_all_strings_ = false;
  pending_kinds_.push_back(v.kind);
  pending_values_.push_back(bits);
  return true;
}

bool RequestParser::ConvertPending(Tensor& input) {
  if (input.datatype == DataType::kBytes && pending_all_strings_) {
    input.data = std::move(pending_strings_);
    pending_strings_.clear();
    return true;
  }
  input.data.reserve(pending_kinds_.size() * serving::DataTypeSize(input.datatype));
  for (size_t i = 0; i < pending_kinds_.size(); ++i) {
    Scalar v;
    v.kind = pending_kinds_[i];
    const uint64_t bits = pending_values_[i];
    switch (v.kind) {
      case Scalar::Kind::kNull:
        break;
      case Scalar::Kind::kBool:
        v.b = bits != 0;
        break;
      case Scalar::Kind::kInt:
        v.i = static_cast<int64_t>(bits);
        break;
      case Scalar::Kind::kUint:
        v.u = bits;
        break;
      case Scalar::Kind::kFloat:
        v.d = std::bit_cast<double>(bits);
        break;
      case Scalar::Kind::kString: {
        uint32_t length;
        std::memcpy(&length, pending_strings_.data() + bits, sizeof(length));
        v.s = std::string_view(pending_strings_).substr(bits + sizeof(length), length);
        break;
      }
    }
    const Conversion conversion = AppendElement(input.datatype, v, &input.data);
    if (conversion != Conversion::kOk) {
      return Fail(ElementError(conversion, input.datatype, v, static_cast<int64_t>(i)));
    }
  }
  return true;
}

bool RequestParser::parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                                const json::exception& ex) {
  std::string_view what = ex.what();
  // Drop nlohmann's "[json.exception.parse_error.101] " tag.
  if (what.starts_with("[json.exception.")) {
    if (size_t end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  error_ = absl::StrCat("malformed JSON: ", Quote(what));
  return false;
}

absl::Status RequestParser::AttachBinary(std::string_view binary) {
  size_t offset = 0;
  for (size_t i = 0; i < request_->inputs.size(); ++i) {
    if (binary_sizes_[i] < 0) continue;
    Tensor& input = request_->inputs[i];
    const auto size = static_cast<uint64_t>(binary_sizes_[i]);
    if (size > binary.size() - offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", Quote(input.name), "': parameters.binary_data_size ", size,
          " runs past the end of the binary data (", binary.size() - offset, " bytes left)"));
    }
    input.data.assign(binary.substr(offset, size));
    offset += size;
    if (absl::Status valid = serving::ValidateTensorData(input, "input"); !valid.ok()) {
      return valid;
    }
  }
  if (offset != binary.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(binary.size() - offset,
                     " bytes of binary data after the JSON header are not claimed by any "
                     "input's parameters.binary_data_size"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Driving RequestParser from a simdjson DOM.

// Calls the handler's SAX methods for a simdjson DOM in document order, as
// nlohmann::json::sax_parse does for the same text: container sizes unknown
// (-1), negative integers as number_integer, non-negative integers as
// number_unsigned (simdjson's INT64 and UINT64 both), numbers with a fraction
// or exponent as number_float, duplicate keys passed through in order. One
// difference: simdjson reads "-0" as the integer 0, nlohmann as a signed
// integer; here it arrives as number_unsigned(0), which only matters for
// parameters that must be unsigned ("priority": -0 is now 0). Stops as soon as
// a handler method returns false. The recursion is bounded by the parser's
// max depth (kMaxWalkDepth).
class DomWalker {
 public:
  explicit DomWalker(RequestParser* handler) : handler_(handler) {}

  bool Walk(simdjson::dom::element element) {
    using simdjson::dom::element_type;
    switch (element.type()) {
      case element_type::OBJECT: {
        if (!handler_->start_object(kUnknownSize)) return false;
        // value_unsafe() returns a reference into the temporary result: copy.
        const simdjson::dom::object object = element.get_object().value_unsafe();
        for (const simdjson::dom::key_value_pair field : object) {
          text_.assign(field.key);
          if (!handler_->key(text_) || !Walk(field.value)) return false;
        }
        return handler_->end_object();
      }
      case element_type::ARRAY: {
        if (!handler_->start_array(kUnknownSize)) return false;
        const simdjson::dom::array array = element.get_array().value_unsafe();
        for (const simdjson::dom::element child : array) {
          if (!Walk(child)) return false;
        }
        return handler_->end_array();
      }
      case element_type::INT64: {
        const int64_t value = element.get_int64().value_unsafe();
        if (value < 0) return handler_->number_integer(value);
        return handler_->number_unsigned(static_cast<uint64_t>(value));
      }
      case element_type::UINT64:
        return handler_->number_unsigned(element.get_uint64().value_unsafe());
      case element_type::DOUBLE:
        // The DOM keeps no number text; RequestParser does not use it.
        return handler_->number_float(element.get_double().value_unsafe(), no_text_);
      case element_type::STRING:
        text_.assign(element.get_string().value_unsafe());
        return handler_->string(text_);
      case element_type::BOOL:
        return handler_->boolean(element.get_bool().value_unsafe());
      case element_type::NULL_VALUE:
        return handler_->null();
    }
    return false;  // unreachable: every element_type is handled above
  }

 private:
  static constexpr size_t kUnknownSize = static_cast<size_t>(-1);

  RequestParser* handler_;
  std::string text_;  // keys and strings; the handler may move from it
  const std::string no_text_;
};

// Parses the JSON part `text` and runs `handler` over it. Returns the
// client's error, or OK when the handler accepted the whole document.
absl::Status ParseRequestJson(std::string_view text, RequestParser& handler) {
  // nlohmann skips a leading UTF-8 byte order mark; simdjson does not.
  std::string_view json_text = text;
  if (json_text.starts_with("\xEF\xBB\xBF")) json_text.remove_prefix(3);
  // simdjson refuses documents nested kMaxWalkDepth + 1 deep or deeper.
  constexpr size_t kParserMaxDepth = kMaxWalkDepth + 1;
  thread_local simdjson::dom::parser reused_parser;
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser* parser = &reused_parser;
  if (json_text.size() > kReusedParserMaxBytes) parser = &own_parser.emplace();
  simdjson::error_code error = simdjson::SUCCESS;
  // A parser's max depth is set by its first allocate() and kept when it
  // grows; a parser not allocated yet reports simdjson's default.
  if (parser->max_depth() != kParserMaxDepth) {
    error = parser->allocate(std::max<size_t>(json_text.size(), 4096), kParserMaxDepth);
  }
  simdjson::dom::element root;
  if (error == simdjson::SUCCESS) {
    // Copies the text into the parser's padded buffer: simdjson reads up to
    // SIMDJSON_PADDING bytes past the end, and the body has no such padding.
    const char* data = json_text.empty() ? "" : json_text.data();
    error = parser->parse(data, json_text.size(), /*realloc_if_needed=*/true).get(root);
  }
  try {
    switch (error) {
      case simdjson::SUCCESS:
        if (!DomWalker(&handler).Walk(root)) return absl::InvalidArgumentError(handler.error());
        return absl::OkStatus();
      case simdjson::DEPTH_ERROR:
        return absl::InvalidArgumentError(
            absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
      case simdjson::NUMBER_ERROR:
        // Integers beyond 64 bits, which nlohmann reads as floats (so that
        // 18446744073709551616 for UINT64 is "expected an integer", not a
        // syntax error), and numbers that are invalid or overflow double.
        // nlohmann handles both as before and names the offending number;
        // RequestParser has seen no event yet. Such bodies are rare; they
        // cost a simdjson pass on top of the old nlohmann parse.
        if (!json::sax_parse(text.data(), text.data() + text.size(), &handler)) {
          return absl::InvalidArgumentError(handler.error());
        }
        return absl::OkStatus();
      case simdjson::MEMALLOC:
      case simdjson::CAPACITY:
        return absl::InvalidArgumentError(
            absl::StrCat("cannot decode request: ", simdjson::error_message(error)));
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("malformed JSON: ", simdjson::error_message(error)));
    }
  } catch (const std::exception& e) {
    // Allocation failures and the like while building the request.
    return absl::InvalidArgumentError(absl::StrCat("cannot decode request: ", e.what()));
  }
}

// ---------------------------------------------------------------------------
// Encoding.

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  size_t length;
  uint32_t code_point;
  uint32_t minimum;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++run;
    }
    out->append(s.substr(i, run - i));
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(s, i);
      if (length == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD for each invalid byte
        ++i;
      } else {
        out->append(s.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(escape, sizeof(escape));
      }
    }
    ++i;
  }
  out->push_back('"');
}

template <typename T>
void AppendNumber(std::string* out, T value) {
  char buf[32];
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      out->append("null");  // JSON has no inf / NaN (nlohmann does the same)
      return;
    }
  }
  const std::to_chars_result result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, result.ptr);
  if constexpr (std::is_floating_point_v<T>) {
    // Shortest round-trip text of the value in its own type. Keep it a float
    // ("1.0", "-0.0") as nlohmann does, so -0 keeps its sign when parsed.
    if (std::find_if(buf, result.ptr, [](char c) { return c == '.' || c == 'e'; }) == result.ptr) {
      out->append(".0");
    }
  }
}

template <typename T>
void AppendNumbers(std::string* out, std::string_view data) {
  const size_t count = data.size() / sizeof(T);
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data.data() + i * sizeof(T), sizeof(T));
    if (i > 0) out->push_back(',');
    AppendNumber(out, value);
  }
}

void AppendJsonData(std::string* out, const Tensor& tensor) {
  const std::string_view data = tensor.data;
  out->push_back('[');
  switch (tensor.datatype) {
    case DataType::kBool:
      for (size_t i = 0; i < data.size(); ++i) {
        if (i > 0) out->push_back(',');
        out->append(data[i] != 0 ? "true" : "false");
      }
      break;
    case DataType::kUint8:
      AppendNumbers<uint8_t>(out, data);
      break;
    case DataType::kUint16:
      AppendNumbers<uint16_t>(out, data);
      break;
    case DataType::kUint32:
      AppendNumbers<uint32_t>(out, data);
      break;
    case DataType::kUint64:
      AppendNumbers<uint64_t>(out, data);
      break;
    case DataType::kInt8:
      AppendNumbers<int8_t>(out, data);
      break;
    case DataType::kInt16:
      AppendNumbers<int16_t>(out, data);
      break;
    case DataType::kInt32:
      AppendNumbers<int32_t>(out, data);
      break;
    case DataType::kInt64:
      AppendNumbers<int64_t>(out, data);
      break;
    case DataType::kFp16:
      for (size_t i = 0; i + 2 <= data.size(); i += 2) {
        uint16_t bits;
        std::memcpy(&bits, data.data() + i, 2);
        if (i > 0) out->push_back(',');
        AppendNumber(out, serving::HalfToFloat(bits));
      }
      break;
    case DataType::kFp32:
      AppendNumbers<float>(out, data);
      break;
    case DataType::kFp64:
      AppendNumbers<double>(out, data);
      break;
    case DataType::kBytes: {
      size_t offset = 0;
      while (data.size() - offset >= 4) {
        uint32_t length;
        std::memcpy(&length, data.data() + offset, 4);
        offset += 4;
        if (length > data.size() - offset) break;
        if (offset > 4) out->push_back(',');
        AppendJsonString(out, data.substr(offset, length));
        offset += length;
      }
      break;
    }
  }
  out->push_back(']');
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool WantsBinary(const InferRequest& request, const std::string& name) {
  for (const RequestedOutput& output : request.outputs) {
    if (output.name == name && output.binary_data.has_value()) return *output.binary_data;
  }
  return request.binary_data_output;
}

json TensorSpecsJson(const std::vector<serving::TensorSpec>& specs) {
  json array = json::array();
  for (const serving::TensorSpec& spec : specs) {
    json entry = json::object();
    entry["name"] = spec.name;
    entry["datatype"] = std::string(serving::DataTypeName(spec.datatype));
    entry["shape"] = spec.shape;
    array.push_back(std::move(entry));
  }
  return array;
}

}  // namespace

absl::StatusOr<InferRequest> DecodeInferRequest(std::string_view body,
                                                std::optional<size_t> json_header_length,
                                                const DecodeLimits& limits) {
  size_t json_size = body.size();
  if (json_header_length.has_value()) {
    if (*json_header_length > body.size()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(kHeaderContentLengthHeader), " ",
                                                     *json_header_length, " exceeds the body size ",
                                                     body.size()));
    }
    json_size = *json_header_length;
  }
  InferRequest request;
  RequestParser parser(limits, json_size, &request);
  if (absl::Status parsed = ParseRequestJson(body.substr(0, json_size), parser); !parsed.ok()) {
    return parsed;
  }
  if (absl::Status attached = parser.AttachBinary(body.substr(json_size)); !attached.ok()) {
    return attached;
  }
  return request;
}

EncodedBody EncodeInferResponse(const serving::InferResponse& response,
                                const InferRequest& request) {
  std::vector<char> binary(response.outputs.size());
  size_t reserve = 256 + response.id.size() + response.model_name.size();
  size_t binary_bytes = 0;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& output = response.outputs[i];
    binary[i] = WantsBinary(request, output.name) ? 1 : 0;
    reserve += 96 + output.name.size() + 21 * output.shape.size();
    if (binary[i]) {
      binary_bytes += output.data.size();
    } else {
      reserve += output.data.size() * 4;
    }
  }
  EncodedBody encoded;
  std::string& out = encoded.body;
  out.reserve(reserve + binary_bytes);
  out.append(R"({"model_name":)");
  AppendJsonString(&out, response.model_name);
  out.append(R"(,"model_version":)");
  AppendJsonString(&out, response.model_version);
  if (!response.id.empty()) {
    out.append(R"(,"id":)");
    AppendJsonString(&out, response.id);
  }
  if (!response.parameters.is_null()) {
    out.append(R"(,"parameters":)");
    out.append(DumpJson(response.parameters));
  }
  out.append(R"(,"outputs":[)");
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& output = response.outputs[i];
    if (i > 0) out.push_back(',');
    out.append(R"({"name":)");
    AppendJsonString(&out, output.name);
    out.append(R"(,"datatype":")");
    out.append(serving::DataTypeName(output.datatype));
    out.append(R"(","shape":[)");
    for (size_t d = 0; d < output.shape.size(); ++d) {
      if (d > 0) out.push_back(',');
      AppendNumber(&out, output.shape[d]);
    }
    out.push_back(']');
    const bool has_parameters = output.parameters.is_object() && !output.parameters.empty();
    if (binary[i]) {
      out.append(R"(,"parameters":)");
      if (has_parameters) {
        json parameters = output.parameters;
        parameters["binary_data_size"] = output.data.size();
        out.append(DumpJson(parameters));
      } else {
        out.append(R"({"binary_data_size":)");
        AppendNumber(&out, output.data.size());
        out.push_back('}');
      }
    } else {
      if (has_parameters) {
        out.append(R"(,"parameters":)");
        out.append(DumpJson(output.parameters));
      }
      out.append(R"(,"data":)");
      AppendJsonData(&out, output);
    }
    out.push_back('}');
  }
  out.append("]}");
  if (std::find(binary.begin(), binary.end(), 1) != binary.end()) {
    encoded.json_header_length = out.size();
    for (size_t i = 0; i < response.outputs.size(); ++i) {
      if (binary[i]) out.append(response.outputs[i].data);
    }
  }
  return encoded;
}

json ModelMetadataJson(const serving::ModelMetadataView& view) {
  json body = json::object();
  body["name"] = view.name;
  body["versions"] = view.versions;
  body["platform"] = view.metadata.platform;
  body["inputs"] = TensorSpecsJson(view.metadata.inputs);
  body["outputs"] = TensorSpecsJson(view.metadata.outputs);
  return body;
}

json ServerMetadataJson(const serving::ServerMetadata& metadata) {
  json body = json::object();
  body["name"] = metadata.name;
  body["version"] = metadata.version;
  body["extensions"] = metadata.extensions;
  return body;
}

std::string ErrorBody(std::string_view message) {
  json body = json::object();
  body["error"] = std::string(message);
  return DumpJson(body);
}

}  // namespace ferry::api::v2
