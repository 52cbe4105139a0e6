// An edge node built with Eclipse Tahu, the Sparkplug B reference implementation
// (org.eclipse.tahu:tahu-core), publishing through Paho: the independent encoder
// of the sidecar's Sparkplug conformance suite. It covers every datatype of the
// specification and writes, next to each payload it publishes, a manifest of
// the values it encoded, so the test compares what the sidecar decoded with
// what Tahu says it sent.
//
//   java -cp 'lib/*:classes' TahuPeer publish <broker-url> <group> <edge> <device> <out-dir> [deflate|gzip]
//       builds NBIRTH, DBIRTH, NDATA, DDATA; writes <out-dir>/NN-TYPE.bin and
//       manifest.json; publishes them (QoS 0, NDEATH as will) unless the url is "-".
//       With deflate or gzip, each payload goes out compressed as Tahu (and
//       Ignition's MQTT Transmission) compress it: a payload of uuid
//       SPBV1.0_COMPRESSED whose body is the encoded payload, deflated by
//       Tahu's PayloadUtil.compress, or gzipped by Tahu's GZipUtil with an
//       "algorithm" metric saying GZIP; the manifest still lists what is inside.
//   java -cp 'lib/*:classes' TahuPeer decode <file.bin>...
//       decodes payloads with Tahu's decoder and prints their metrics as the
//       manifest would, as a JSON array (to check the sidecar's encoder the other way round).
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.eclipse.tahu.message.SparkplugBPayloadDecoder;
import org.eclipse.tahu.message.SparkplugBPayloadEncoder;
import org.eclipse.tahu.message.model.DataSet;
import org.eclipse.tahu.message.model.DataSetDataType;
import org.eclipse.tahu.message.model.File;
import org.eclipse.tahu.message.model.MetaData;
import org.eclipse.tahu.message.model.Metric;
import org.eclipse.tahu.message.model.MetricDataType;
import org.eclipse.tahu.message.model.Parameter;
import org.eclipse.tahu.message.model.ParameterDataType;
import org.eclipse.tahu.message.model.PropertyDataType;
import org.eclipse.tahu.message.model.PropertySet;
import org.eclipse.tahu.message.model.PropertyValue;
import org.eclipse.tahu.message.model.Row;
import org.eclipse.tahu.message.model.SparkplugBPayload;
import org.eclipse.tahu.message.model.Template;
import org.eclipse.tahu.message.model.Value;
import org.eclipse.tahu.util.GZipUtil;
import org.eclipse.tahu.util.PayloadUtil;

public class TahuPeer {
  static final long T0 = 1795766400000L; // 2026-11-27T00:00:00Z
  static final BigInteger UINT64_BIG = new BigInteger("18446744073709551557"); // > 2^53, < 2^64
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public static void main(String[] args) throws Exception {
    if (args.length >= 2 && args[0].equals("decode")) {
      List<Object> decoded = new ArrayList<>();
      for (int i = 1; i < args.length; i++) {
        SparkplugBPayload payload =
            new SparkplugBPayloadDecoder().buildFromByteArray(Files.readAllBytes(Path.of(args[i])), null);
        List<Object> metrics = new ArrayList<>();
        for (Metric metric : payload.getMetrics()) metrics.add(canonMetric(metric));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("timestamp", payload.getTimestamp() == null ? null : payload.getTimestamp().getTime());
        out.put("seq", payload.getSeq());
        out.put("metrics", metrics);
        decoded.add(out);
      }
      System.out.println(JSON.writeValueAsString(decoded));
      return;
    }
    if (args.length < 6 || !args[0].equals("publish")) {
      System.err.println("usage: TahuPeer publish <broker-url|-> <group> <edge> <device> <out-dir> | decode <file>...");
      System.exit(2);
    }
    String url = args[1], group = args[2], edge = args[3], device = args[4];
    Path outDir = Path.of(args[5]);
    String compression = args.length > 6 ? args[6] : "none";
    Files.createDirectories(outDir);
    String ns = "spBv1.0/" + group + "/";

    List<Object[]> messages = new ArrayList<>(); // {topic, payload}
    long bdSeq = 0;
    messages.add(new Object[] {ns + "NBIRTH/" + edge, nbirth(bdSeq)});
    messages.add(new Object[] {ns + "DBIRTH/" + edge + "/" + device, dbirth()});
    messages.add(new Object[] {ns + "NDATA/" + edge, ndata()});
    messages.add(new Object[] {ns + "DDATA/" + edge + "/" + device, ddata()});

    SparkplugBPayloadEncoder encoder = new SparkplugBPayloadEncoder();
    List<Object> manifest = new ArrayList<>();
    List<byte[]> encoded = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      String topic = (String) messages.get(i)[0];
      SparkplugBPayload payload = (SparkplugBPayload) messages.get(i)[1];
      byte[] bytes = encoder.getBytes(compressed(payload, compression, encoder), false);
      encoded.add(bytes);
      String type = topic.split("/")[2];
      String file = String.format("%02d-%s.bin", i, type);
      Files.write(outDir.resolve(file), bytes);
      List<Object> metrics = new ArrayList<>();
      for (Metric metric : payload.getMetrics()) metrics.add(canonMetric(metric));
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("topic", topic);
      entry.put("file", file);
      entry.put("timestamp", payload.getTimestamp().getTime());
      entry.put("seq", payload.getSeq());
      entry.put("metrics", metrics);
      manifest.add(entry);
    }
    Files.writeString(outDir.resolve("manifest.json"), JSON.writeValueAsString(manifest));
    if (url.equals("-")) return;

    // Paho names plain MQTT tcp:// (and TLS ssl://).
    String pahoUrl = url.replaceFirst("^mqtt://", "tcp://").replaceFirst("^mqtts://", "ssl://");
    MqttClient client = new MqttClient(pahoUrl, "tahu-peer-" + edge, new MemoryPersistence());
    MqttConnectOptions options = new MqttConnectOptions();
    options.setCleanSession(true);
    SparkplugBPayload death = new SparkplugBPayload.SparkplugBPayloadBuilder()
        .setTimestamp(new Date(T0))
        .addMetric(new Metric.MetricBuilder("bdSeq", MetricDataType.Int64, bdSeq).createMetric())
        .createPayload();
    options.setWill(ns + "NDEATH/" + edge, encoder.getBytes(death, false), 0, false);
    client.connect(options);
    for (int i = 0; i < messages.size(); i++) {
      client.publish((String) messages.get(i)[0], encoded.get(i), 0, false);
    }
    client.disconnect();
    client.close();
    System.out.println("published " + messages.size() + " messages to " + url);
  }

  /** The payload as it goes out: itself, or wrapped compressed (SPBV1.0_COMPRESSED). */
  static SparkplugBPayload compressed(SparkplugBPayload payload, String how, SparkplugBPayloadEncoder encoder)
      throws Exception {
    switch (how) {
      case "none":
        return payload;
      case "deflate":
        return PayloadUtil.compress(payload, false);
      case "gzip":
        return new SparkplugBPayload.SparkplugBPayloadBuilder(payload.getSeq())
            .setUuid(PayloadUtil.UUID_COMPRESSED)
            .setBody(GZipUtil.compress(encoder.getBytes(payload, false)))
            .addMetric(new Metric.MetricBuilder("algorithm", MetricDataType.String, "GZIP").createMetric())
            .createPayload();
      default:
        throw new IllegalArgumentException("compression is none, deflate or gzip, not " + how);
    }
  }

  static Metric metric(String name, long alias, MetricDataType type, Object value) throws Exception {
    return new Metric.MetricBuilder(name, type, value).alias(alias).timestamp(new Date(T0 + alias)).createMetric();
  }

  static PropertySet quality(int code) throws Exception {
    return new PropertySet.PropertySetBuilder()
        .addProperty("Quality", new PropertyValue(PropertyDataType.Int32, code))
        .createPropertySet();
  }

  /** Every scalar and array datatype, a DataSet with every column type, a Template definition and instance. */
  static SparkplugBPayload nbirth(long bdSeq) throws Exception {
    List<Metric> m = new ArrayList<>();
    m.add(new Metric.MetricBuilder("bdSeq", MetricDataType.Int64, bdSeq).createMetric());
    m.add(new Metric.MetricBuilder("Node Control/Rebirth", MetricDataType.Boolean, false).createMetric());
    m.add(metric("Scalars/Int8", 1, MetricDataType.Int8, (byte) -100));
    m.add(metric("Scalars/Int16", 2, MetricDataType.Int16, (short) -30000));
    m.add(metric("Scalars/Int32", 3, MetricDataType.Int32, -2000000000));
    m.add(metric("Scalars/Int64", 4, MetricDataType.Int64, -9000000000000000000L));
    m.add(metric("Scalars/UInt8", 5, MetricDataType.UInt8, (short) 250));
    m.add(metric("Scalars/UInt16", 6, MetricDataType.UInt16, 65000));
    m.add(metric("Scalars/UInt32", 7, MetricDataType.UInt32, 4000000000L));
    m.add(metric("Scalars/UInt64", 8, MetricDataType.UInt64, UINT64_BIG));
    m.add(metric("Scalars/Float", 9, MetricDataType.Float, 1.1f));
    m.add(metric("Scalars/Double", 10, MetricDataType.Double, -2.718281828459045));
    m.add(metric("Scalars/Boolean", 11, MetricDataType.Boolean, true));
    m.add(metric("Scalars/String", 12, MetricDataType.String, "Presse 03 — Ölwechsel"));
    m.add(metric("Scalars/DateTime", 13, MetricDataType.DateTime, new Date(T0 - 3600_000L)));
    m.add(metric("Scalars/Text", 14, MetricDataType.Text, "line one\nline two"));
    m.add(metric("Scalars/UUID", 15, MetricDataType.UUID, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
    m.add(metric("Scalars/Bytes", 16, MetricDataType.Bytes, new byte[] {0, 1, 2, (byte) 0xfe, (byte) 0xff}));
    m.add(metric("Scalars/File", 17, MetricDataType.File, new File("recipe.csv", "a;b\n1;2\n".getBytes("UTF-8"))));
    m.add(metric("Arrays/Int8Array", 20, MetricDataType.Int8Array, new Byte[] {-128, -1, 0, 127}));
    m.add(metric("Arrays/Int16Array", 21, MetricDataType.Int16Array, new Short[] {-32768, 0, 32767}));
    m.add(metric("Arrays/Int32Array", 22, MetricDataType.Int32Array, new Integer[] {Integer.MIN_VALUE, 7, Integer.MAX_VALUE}));
    m.add(metric("Arrays/Int64Array", 23, MetricDataType.Int64Array, new Long[] {Long.MIN_VALUE, -1L, Long.MAX_VALUE}));
    m.add(metric("Arrays/UInt8Array", 24, MetricDataType.UInt8Array, new Short[] {0, 128, 255}));
    m.add(metric("Arrays/UInt16Array", 25, MetricDataType.UInt16Array, new Integer[] {0, 40000, 65535}));
    m.add(metric("Arrays/UInt32Array", 26, MetricDataType.UInt32Array, new Long[] {0L, 3000000000L, 4294967295L}));
    m.add(metric("Arrays/UInt64Array", 27, MetricDataType.UInt64Array,
        new BigInteger[] {BigInteger.ZERO, new BigInteger("9007199254740993"), new BigInteger("18446744073709551615")}));
    m.add(metric("Arrays/FloatArray", 28, MetricDataType.FloatArray, new Float[] {-1.5f, 0.1f, 3.4e38f}));
    m.add(metric("Arrays/DoubleArray", 29, MetricDataType.DoubleArray, new Double[] {-0.5, 1e-300, Math.PI}));
    m.add(metric("Arrays/BooleanArray", 30, MetricDataType.BooleanArray,
        new Boolean[] {true, false, true, true, false, false, false, false, true, true}));
    m.add(metric("Arrays/StringArray", 31, MetricDataType.StringArray, new String[] {"ABC", "", "order 4711"}));
    m.add(metric("Arrays/DateTimeArray", 32, MetricDataType.DateTimeArray, new Date[] {new Date(T0), new Date(0)}));
    m.add(metric("Recipe", 40, MetricDataType.DataSet, dataSet()));
    m.add(new Metric.MetricBuilder("_types_/Motor", MetricDataType.Template, motor(true, 0f, 0L, "")).createMetric());
    m.add(metric("Motor1", 41, MetricDataType.Template, motor(false, 1450.5f, 120L, "Running")));
    m.add(new Metric.MetricBuilder("Quality/Good", MetricDataType.Int32, 1).alias(50L).timestamp(new Date(T0))
        .properties(new PropertySet.PropertySetBuilder()
            .addProperty("Quality", new PropertyValue(PropertyDataType.Int32, 192))
            .addProperty("engUnit", new PropertyValue(PropertyDataType.String, "pcs"))
            .addProperty("Limits", new PropertyValue(PropertyDataType.PropertySet, new PropertySet.PropertySetBuilder()
                .addProperty("High", new PropertyValue(PropertyDataType.Double, 100.0))
                .addProperty("Low", new PropertyValue(PropertyDataType.Double, 0.0))
                .createPropertySet()))
            .addProperty("History", new PropertyValue(PropertyDataType.PropertySetList, List.of(quality(0), quality(192))))
            .createPropertySet())
        .createMetric());
    m.add(new Metric.MetricBuilder("Quality/Bad", MetricDataType.Int32, 5).alias(51L).timestamp(new Date(T0))
        .properties(quality(0)).createMetric());
    m.add(metric("Null/Int32", 52, MetricDataType.Int32, null));
    m.add(metric("Null/String", 53, MetricDataType.String, null));
    m.add(metric("Counter", 60, MetricDataType.UInt32, 1000L));
    m.add(metric("Scrap", 61, MetricDataType.UInt32, 3L));
    return new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date(T0)).setSeq(0L).addMetrics(m).createPayload();
  }

  static DataSet dataSet() throws Exception {
    DataSetDataType[] types = {
      DataSetDataType.Int8, DataSetDataType.Int16, DataSetDataType.Int32, DataSetDataType.Int64,
      DataSetDataType.UInt8, DataSetDataType.UInt16, DataSetDataType.UInt32, DataSetDataType.UInt64,
      DataSetDataType.Float, DataSetDataType.Double, DataSetDataType.Boolean, DataSetDataType.String,
      DataSetDataType.DateTime, DataSetDataType.Text
    };
    DataSet.DataSetBuilder builder = new DataSet.DataSetBuilder(types.length);
    for (DataSetDataType type : types) builder.addColumnName("c" + type.toString()).addType(type);
    builder.addRow(new Row.RowBuilder()
        .addValue(new Value<>(DataSetDataType.Int8, (byte) -7))
        .addValue(new Value<>(DataSetDataType.Int16, (short) -300))
        .addValue(new Value<>(DataSetDataType.Int32, 123456))
        .addValue(new Value<>(DataSetDataType.Int64, -5000000000L))
        .addValue(new Value<>(DataSetDataType.UInt8, (short) 200))
        .addValue(new Value<>(DataSetDataType.UInt16, 60000))
        .addValue(new Value<>(DataSetDataType.UInt32, 4000000001L))
        .addValue(new Value<>(DataSetDataType.UInt64, UINT64_BIG))
        .addValue(new Value<>(DataSetDataType.Float, 2.5f))
        .addValue(new Value<>(DataSetDataType.Double, 0.125))
        .addValue(new Value<>(DataSetDataType.Boolean, true))
        .addValue(new Value<>(DataSetDataType.String, "MATERIAL"))
        .addValue(new Value<>(DataSetDataType.DateTime, new Date(T0)))
        .addValue(new Value<>(DataSetDataType.Text, "note"))
        .createRow());
    Row.RowBuilder second = new Row.RowBuilder();
    for (DataSetDataType type : types) second.addValue(new Value<>(type, null));
    builder.addRow(second.createRow());
    return builder.createDataSet();
  }

  static Template motor(boolean definition, float speed, long starts, String state) throws Exception {
    Template.TemplateBuilder builder = new Template.TemplateBuilder()
        .version("1.0")
        .definition(definition)
        .addParameter(new Parameter("RatedPower", ParameterDataType.Double, definition ? 0.0 : 7.5))
        .addMetric(new Metric.MetricBuilder("Speed", MetricDataType.Float, speed).timestamp(new Date(T0)).createMetric())
        .addMetric(new Metric.MetricBuilder("Starts", MetricDataType.UInt32, starts).timestamp(new Date(T0)).createMetric())
        .addMetric(new Metric.MetricBuilder("State", MetricDataType.String, state).timestamp(new Date(T0)).createMetric());
    if (!definition) builder.templateRef("Motor");
    return builder.createTemplate();
  }

  static SparkplugBPayload dbirth() throws Exception {
    List<Metric> m = new ArrayList<>();
    m.add(metric("GoodCount", 100, MetricDataType.UInt64, new BigInteger("500")));
    m.add(metric("State", 101, MetricDataType.Int16, (short) 1));
    m.add(metric("Order", 102, MetricDataType.String, "WH/MO/00042"));
    return new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date(T0 + 1000)).setSeq(1L).addMetrics(m).createPayload();
  }

  /** New values by alias only, a historical and a transient one, a template member change, null. */
  static SparkplugBPayload ndata() throws Exception {
    List<Metric> m = new ArrayList<>();
    m.add(new Metric.MetricBuilder(60L, MetricDataType.UInt32, 1010L).timestamp(new Date(T0 + 2000)).createMetric());
    m.add(new Metric.MetricBuilder(60L, MetricDataType.UInt32, 990L).timestamp(new Date(T0 - 60_000))
        .isHistorical(true).createMetric());
    m.add(new Metric.MetricBuilder(8L, MetricDataType.UInt64, UINT64_BIG.add(BigInteger.TWO))
        .timestamp(new Date(T0 + 2000)).isTransient(true).createMetric());
    m.add(new Metric.MetricBuilder("Motor1", MetricDataType.Template, new Template.TemplateBuilder()
        .templateRef("Motor").definition(false)
        .addMetric(new Metric.MetricBuilder("Speed", MetricDataType.Float, 1500.25f).timestamp(new Date(T0 + 2000)).createMetric())
        .addMetric(new Metric.MetricBuilder("State", MetricDataType.String, "Stopped").timestamp(new Date(T0 + 2000)).createMetric())
        .createTemplate()).alias(41L).timestamp(new Date(T0 + 2000)).createMetric());
    m.add(new Metric.MetricBuilder(61L, MetricDataType.UInt32, 50L).timestamp(new Date(T0 + 2000)).isTransient(true).createMetric());
    m.add(new Metric.MetricBuilder(1L, MetricDataType.Int8, null).timestamp(new Date(T0 + 2000)).createMetric());
    return new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date(T0 + 2000)).setSeq(2L).addMetrics(m).createPayload();
  }

  static SparkplugBPayload ddata() throws Exception {
    List<Metric> m = new ArrayList<>();
    m.add(new Metric.MetricBuilder(100L, MetricDataType.UInt64, new BigInteger("512")).timestamp(new Date(T0 + 3000)).createMetric());
    m.add(new Metric.MetricBuilder(101L, MetricDataType.Int16, (short) -1).timestamp(new Date(T0 + 3000)).createMetric());
    return new SparkplugBPayload.SparkplugBPayloadBuilder().setTimestamp(new Date(T0 + 3000)).setSeq(3L).addMetrics(m).createPayload();
  }

  // ------------------------------------------------ the manifest's value form
  // 64-bit integers as decimal strings (JSON numbers lose digits past 2^53),
  // DateTime as ms since epoch, bytes as base64, Float widened to double.

  static Map<String, Object> canonMetric(Metric metric) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("name", metric.getName());
    out.put("alias", metric.getAlias());
    out.put("type", metric.getDataType().toString());
    out.put("timestamp", metric.getTimestamp() == null ? null : metric.getTimestamp().getTime());
    if (Boolean.TRUE.equals(metric.getIsHistorical())) out.put("isHistorical", true);
    if (Boolean.TRUE.equals(metric.getIsTransient())) out.put("isTransient", true);
    out.put("value", canon(metric.getDataType().toString(), metric.getValue()));
    if (metric.getProperties() != null) out.put("properties", canonProperties(metric.getProperties()));
    return out;
  }

  static Map<String, Object> canonProperties(PropertySet set) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, PropertyValue> entry : set.getPropertyMap().entrySet()) {
      Map<String, Object> value = new LinkedHashMap<>();
      String type = entry.getValue().getType().toString();
      value.put("type", type);
      Object raw = entry.getValue().getValue();
      if (raw instanceof PropertySet) value.put("value", canonProperties((PropertySet) raw));
      else if (raw instanceof List) {
        List<Object> list = new ArrayList<>();
        for (Object item : (List<?>) raw) list.add(canonProperties((PropertySet) item));
        value.put("value", list);
      } else value.put("value", canon(type, raw));
      out.put(entry.getKey(), value);
    }
    return out;
  }

  static Object canon(String type, Object value) throws Exception {
    if (value == null) return null;
    switch (type) {
      case "Int64":
      case "UInt64":
        return value.toString();
      case "Float":
        return ((Float) value).doubleValue();
      case "DateTime":
        return ((Date) value).getTime();
      case "Bytes":
        return Base64.getEncoder().encodeToString((byte[]) value);
      case "File": {
        Map<String, Object> file = new LinkedHashMap<>();
        file.put("fileName", ((File) value).getFileName());
        file.put("bytes", Base64.getEncoder().encodeToString(((File) value).getBytes()));
        return file;
      }
      case "DataSet": {
        DataSet dataSet = (DataSet) value;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("columns", dataSet.getColumnNames());
        List<String> types = new ArrayList<>();
        for (DataSetDataType t : dataSet.getTypes()) types.add(t.toString());
        out.put("types", types);
        List<Object> rows = new ArrayList<>();
        for (Row row : dataSet.getRows()) {
          List<Object> cells = new ArrayList<>();
          for (int i = 0; i < row.getValues().size(); i++) cells.add(canon(types.get(i), row.getValues().get(i).getValue()));
          rows.add(cells);
        }
        out.put("rows", rows);
        return out;
      }
      case "Template": {
        Template template = (Template) value;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("isDefinition", template.isDefinition());
        out.put("templateRef", template.getTemplateRef());
        out.put("version", template.getVersion());
        List<Object> metrics = new ArrayList<>();
        for (Metric member : template.getMetrics()) metrics.add(canonMetric(member));
        out.put("metrics", metrics);
        List<Object> parameters = new ArrayList<>();
        if (template.getParameters() != null) {
          for (Parameter p : template.getParameters()) {
            Map<String, Object> param = new LinkedHashMap<>();
            param.put("name", p.getName());
            param.put("type", p.getType().toString());
            param.put("value", canon(p.getType().toString(), p.getValue()));
            parameters.add(param);
          }
        }
        out.put("parameters", parameters);
        return out;
      }
      default:
        if (type.endsWith("Array")) {
          String element = type.substring(0, type.length() - "Array".length());
          List<Object> out = new ArrayList<>();
          for (Object item : (Object[]) value) out.add(canon(element, item));
          return out;
        }
        return value;
    }
  }
}
