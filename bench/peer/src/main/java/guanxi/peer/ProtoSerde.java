package guanxi.peer;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** A Serde of one protobuf message type, as its binary encoding. Thread-safe. */
public final class ProtoSerde {
  private ProtoSerde() {}

  public static <T extends MessageLite> Serde<T> of(Parser<T> parser) {
    Serializer<T> serializer = (topic, message) -> message == null ? null : message.toByteArray();
    Deserializer<T> deserializer = (topic, bytes) -> {
      if (bytes == null) return null;
      try {
        return parser.parseFrom(bytes);
      } catch (InvalidProtocolBufferException e) {
        throw new SerializationException("not a valid protobuf message on " + topic, e);
      }
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }
}
