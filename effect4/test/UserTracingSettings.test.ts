// The Effect 3 line's tables of bad settings (test/UserTracingSettings.test.ts), run against the
// Effect 4 line: the same input fails with the same one line, naming the field or the variable.
import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { ConfigProvider, Duration, Effect, Logger, Schema } from "effect"
import * as UserTracingSettings from "../src/UserTracingSettings.js"

const uds = { socketPath: "/run/otlp.sock", routingHeaderName: "x-route" }
const http = { url: "http://127.0.0.1:4318/v1/traces", routingHeaderName: "x-route" }
const enabled = { enabled: true, serviceName: "svc", output: { otlpUds: uds } }

const settingsOf = <E>(layer: Layer.Layer<UserTracingSettings.UserTracingSettings, E>) =>
  Effect.provide(UserTracingSettings.UserTracingSettings.use(Effect.succeed), layer)

const fromEnv = (vars: ReadonlyArray<readonly [string, string]>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provideService(self, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: Object.fromEntries(vars) }))

describe("defaults", () => {
  it.effect("disabled builds with nothing else", () =>
    Effect.gen(function*() {
      const settings = yield* settingsOf(UserTracingSettings.layer({}))
      expect(settings.enabled).toBe(false)
      expect(settings.output).toBeUndefined()
      expect(settings.maxQueueSize).toBe(UserTracingSettings.defaultMaxQueueSize)
    }))

  it.effect("an enabled uds output gets every default; durations as milliseconds or strings", () =>
    Effect.gen(function*() {
      const settings = yield* UserTracingSettings.decode(enabled)
      expect(settings).toMatchObject({
        enabled: true,
        serviceName: "svc",
        maxQueueSize: 65_536,
        maxQueueBytes: 64 * 1024 * 1024,
        maxRoutingValueBytes: 4_096,
        limits: { maxAttributes: 128, maxEvents: 128, maxAttributeValueLength: 4096 }
      })
      expect(Duration.toMillis(settings.shutdownTimeout)).toBe(10_000)
      const other = yield* UserTracingSettings.decode({
        ...enabled,
        maxQueueSize: null,
        shutdownTimeout: "500 millis",
        output: { otlpHttp: { ...http, requestTimeout: 2500 } }
      })
      expect(other.maxQueueSize).toBeNull()
      expect(Duration.toMillis(other.shutdownTimeout)).toBe(500)
    }))

  it.effect("the Schema decodes what decode accepts and encodes back to input, durations in milliseconds", () =>
    Effect.gen(function*() {
      const settings = yield* Schema.decodeUnknownEffect(UserTracingSettings.SettingsSchema)(enabled)
      const encoded = yield* Schema.encodeEffect(UserTracingSettings.SettingsSchema)(settings)
      expect(encoded).toMatchObject({
        shutdownTimeout: 10_000,
        output: { otlpUds: { ...uds, requestTimeout: 10_000 } }
      })
      const error = yield* Effect.flip(
        Schema.decodeUnknownEffect(UserTracingSettings.SettingsSchema)({ enabled: true })
      )
      expect(String(error)).toContain("serviceName is required when enabled is true")
    }))
})

const durationRule =
  "must be a whole number of milliseconds from 1 to 600000 (10 minutes) or a duration such as \"10 seconds\""

/** Settings in code that fail: what, the field path, the whole message. */
const bad: ReadonlyArray<readonly [string, UserTracingSettings.SettingsInput, string, string]> = [
  [
    "empty socketPath",
    { output: { otlpUds: { ...uds, socketPath: "" } } },
    "output.otlpUds.socketPath",
    "output.otlpUds.socketPath must be a non-empty string"
  ],
  [
    "empty serviceName while enabled",
    { ...enabled, serviceName: "" },
    "serviceName",
    "serviceName must be a non-empty string"
  ],
  ["empty serviceName while disabled", { serviceName: "" }, "serviceName", "serviceName must be a non-empty string"],
  [
    "missing serviceName while enabled",
    { enabled: true, output: { otlpUds: uds } },
    "serviceName",
    "serviceName is required when enabled is true"
  ],
  [
    "missing output while enabled",
    { enabled: true, serviceName: "svc" },
    "output",
    "output is required when enabled is true"
  ],
  [
    "header name with a space",
    { output: { otlpUds: { ...uds, routingHeaderName: "bad header" } } },
    "output.otlpUds.routingHeaderName",
    "output.otlpUds.routingHeaderName is not a valid HTTP header name"
  ],
  [
    "header name with a newline",
    { output: { otlpHttp: { ...http, routingHeaderName: "x-route\n" } } },
    "output.otlpHttp.routingHeaderName",
    "output.otlpHttp.routingHeaderName is not a valid HTTP header name"
  ],
  [
    "reserved header name",
    { output: { otlpUds: { ...uds, routingHeaderName: "Content-Type" } } },
    "output.otlpUds.routingHeaderName",
    "output.otlpUds.routingHeaderName is a header the exporter sets itself"
  ],
  [
    "numTasks 0",
    { output: { otlpUds: { ...uds, numTasks: 0 } } },
    "output.otlpUds.numTasks",
    "output.otlpUds.numTasks must be an integer from 1 to 256"
  ],
  [
    "numTasks 1.5",
    { output: { otlpUds: { ...uds, numTasks: 1.5 } } },
    "output.otlpUds.numTasks",
    "output.otlpUds.numTasks must be an integer from 1 to 256"
  ],
  [
    "maxBatchSize -1",
    { output: { otlpHttp: { ...http, maxBatchSize: -1 } } },
    "output.otlpHttp.maxBatchSize",
    "output.otlpHttp.maxBatchSize must be an integer from 1 to 65,536"
  ],
  [
    "maxAttempts 0",
    { output: { otlpUds: { ...uds, maxAttempts: 0 } } },
    "output.otlpUds.maxAttempts",
    "output.otlpUds.maxAttempts must be a positive integer"
  ],
  ["maxQueueSize 0", { maxQueueSize: 0 }, "maxQueueSize", "maxQueueSize must be a positive integer or null"],
  [
    "negative limit",
    { limits: { maxEvents: -1 } },
    "limits.maxEvents",
    "limits.maxEvents must be a non-negative integer"
  ],
  ["bad duration string", { shutdownTimeout: "10 parsecs" }, "shutdownTimeout", `shutdownTimeout ${durationRule}`],
  [
    "negative duration",
    { output: { otlpUds: { ...uds, requestTimeout: -1 } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout 0 (every request would time out)",
    { output: { otlpUds: { ...uds, requestTimeout: 0 } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout 0.5 ms",
    { output: { otlpUds: { ...uds, requestTimeout: 0.5 } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout \"1 nanos\" (the HTTP client counts whole milliseconds)",
    { output: { otlpHttp: { ...http, requestTimeout: "1 nanos" } } },
    "output.otlpHttp.requestTimeout",
    `output.otlpHttp.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout \"1500 micros\" (not a whole millisecond)",
    { output: { otlpUds: { ...uds, requestTimeout: "1500 micros" } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout \"0 seconds\"",
    { output: { otlpUds: { ...uds, requestTimeout: "0 seconds" } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "requestTimeout 30 days (past Node's timer range)",
    { output: { otlpUds: { ...uds, requestTimeout: "30 days" } } },
    "output.otlpUds.requestTimeout",
    `output.otlpUds.requestTimeout ${durationRule}`
  ],
  [
    "shutdownTimeout 10 minutes and 1 ms",
    { shutdownTimeout: 600_001 },
    "shutdownTimeout",
    `shutdownTimeout ${durationRule}`
  ],
  [
    "shutdownTimeout \"11 minutes\"",
    { shutdownTimeout: "11 minutes" },
    "shutdownTimeout",
    `shutdownTimeout ${durationRule}`
  ],
  ["shutdownTimeout 2^31 ms", { shutdownTimeout: 2 ** 31 }, "shutdownTimeout", `shutdownTimeout ${durationRule}`],
  ["shutdownTimeout infinite", { shutdownTimeout: "Infinity" }, "shutdownTimeout", `shutdownTimeout ${durationRule}`],
  ["shutdownTimeout NaN", { shutdownTimeout: Number.NaN }, "shutdownTimeout", `shutdownTimeout ${durationRule}`],
  [
    "non-http url",
    { output: { otlpHttp: { ...http, url: "ftp://example.com/v1/traces" } } },
    "output.otlpHttp.url",
    "output.otlpHttp.url must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"
  ],
  [
    "a url with credentials (they would be dropped)",
    { output: { otlpHttp: { ...http, url: "http://user:pass@127.0.0.1:4318/v1/traces" } } },
    "output.otlpHttp.url",
    "output.otlpHttp.url must not contain credentials (user:password@): send them in headers (authorization)"
  ],
  [
    "a url with a user name only",
    { output: { otlpHttp: { ...http, url: "https://token@otlp.example.com/v1/traces" } } },
    "output.otlpHttp.url",
    "output.otlpHttp.url must not contain credentials (user:password@): send them in headers (authorization)"
  ],
  [
    "numTasks 1e9 (would fork a billion fibers)",
    { output: { otlpUds: { ...uds, numTasks: 1e9 } } },
    "output.otlpUds.numTasks",
    "output.otlpUds.numTasks must be an integer from 1 to 256"
  ],
  [
    "numTasks past the bound",
    { output: { otlpUds: { ...uds, numTasks: 257 } } },
    "output.otlpUds.numTasks",
    "output.otlpUds.numTasks must be an integer from 1 to 256"
  ],
  [
    "maxBatchSize 1e9",
    { output: { otlpHttp: { ...http, maxBatchSize: 1e9 } } },
    "output.otlpHttp.maxBatchSize",
    "output.otlpHttp.maxBatchSize must be an integer from 1 to 65,536"
  ],
  [
    "a 140-byte socketPath (the kernel would cut it)",
    { output: { otlpUds: { ...uds, socketPath: `/${"s".repeat(139)}` } } },
    "output.otlpUds.socketPath",
    "output.otlpUds.socketPath must be at most 107 bytes (the kernel cuts a longer Unix socket path); this one has 140"
  ],
  [
    "a socketPath of 36 characters but 108 bytes",
    { output: { otlpUds: { ...uds, socketPath: "東".repeat(36) } } },
    "output.otlpUds.socketPath",
    "output.otlpUds.socketPath must be at most 107 bytes (the kernel cuts a longer Unix socket path); this one has 108"
  ],
  [
    "unknown compression",
    { output: { otlpUds: { ...uds, compression: "brotli" as never } } },
    "output.otlpUds.compression",
    "output.otlpUds.compression must be \"none\" or \"gzip\""
  ],
  [
    "a static header with a bad name",
    { output: { otlpHttp: { ...http, headers: { "bad name": "x" } } } },
    "output.otlpHttp.headers.bad name",
    "output.otlpHttp.headers.bad name is not a valid HTTP header name"
  ],
  [
    "a static header value with a newline",
    { output: { otlpHttp: { ...http, headers: { authorization: "x\r\ninjected: 1" } } } },
    "output.otlpHttp.headers.authorization",
    "output.otlpHttp.headers.authorization has a value that is not a legal header value (a control character)"
  ],
  [
    "a static header value with a C1 control character",
    { output: { otlpHttp: { ...http, headers: { "x-tenant": "a\u0085b" } } } },
    "output.otlpHttp.headers.x-tenant",
    "output.otlpHttp.headers.x-tenant has a value that is not a legal header value (a control character)"
  ],
  [
    "a static header value with a lone surrogate (no UTF-8 for it)",
    { output: { otlpHttp: { ...http, headers: { "x-tenant": "a\ud800" } } } },
    "output.otlpHttp.headers.x-tenant",
    "output.otlpHttp.headers.x-tenant has a value that is not a legal header value (a control character)"
  ],
  [
    "a static header value with a space at the end (the receiver would drop it)",
    { output: { otlpHttp: { ...http, headers: { authorization: "Bearer abc " } } } },
    "output.otlpHttp.headers.authorization",
    "output.otlpHttp.headers.authorization has a value that starts or ends with a space or tab (the receiver would drop it)"
  ],
  [
    "the same header name twice, in another case (it would be sent twice)",
    { output: { otlpHttp: { ...http, headers: { Authorization: "first", authorization: "second" } } } },
    "output.otlpHttp.headers.authorization",
    "output.otlpHttp.headers.authorization repeats the header Authorization (header names are case-insensitive)"
  ],
  [
    "a static header the exporter sets",
    { output: { otlpHttp: { ...http, headers: { "Content-Encoding": "br" } } } },
    "output.otlpHttp.headers.Content-Encoding",
    "output.otlpHttp.headers.Content-Encoding is a header the exporter sets itself"
  ],
  [
    "a static header repeating the routing header",
    { output: { otlpHttp: { ...http, headers: { "X-Route": "x" } } } },
    "output.otlpHttp.headers.X-Route",
    "output.otlpHttp.headers.X-Route repeats the routing header name"
  ],
  [
    "headers on a uds output",
    { output: { otlpUds: { ...uds, headers: {} } as never } },
    "output.otlpUds.headers",
    "output.otlpUds.headers is unexpected, expected: \"socketPath\" | \"routingHeaderName\" | \"numTasks\" | \"maxBatchSize\" | \"maxBatchBytes\" | \"requestTimeout\" | \"maxAttempts\" | \"compression\""
  ],
  [
    "unparsable url",
    { output: { otlpHttp: { ...http, url: "not a url" } } },
    "output.otlpHttp.url",
    "output.otlpHttp.url must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"
  ],
  [
    "both outputs",
    { output: { otlpUds: uds, otlpHttp: http } },
    "output",
    "output must have exactly one of otlpUds, otlpHttp"
  ],
  ["no output kind", { output: {} as never }, "output", "output must have exactly one of otlpUds, otlpHttp"],
  [
    "typo in a field",
    { output: { otlpUds: { ...uds, sockerPath: "/x" } as never } },
    "output.otlpUds.sockerPath",
    "output.otlpUds.sockerPath is unexpected, expected: \"socketPath\" | \"routingHeaderName\" | \"numTasks\" | \"maxBatchSize\" | \"maxBatchBytes\" | \"requestTimeout\" | \"maxAttempts\" | \"compression\""
  ],
  [
    "typo at the top",
    { enable: true } as never,
    "enable",
    "enable is unexpected, expected: \"enabled\" | \"serviceName\" | \"maxQueueSize\" | \"maxQueueBytes\" | \"maxRoutingValueBytes\" | \"output\" | \"shutdownTimeout\" | \"limits\""
  ]
]

describe("bad settings in code fail naming the field path, in one line", () => {
  it.effect.each(bad)("%s", ([, input, path, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(UserTracingSettings.decode(input))
      expect(error._tag).toBe("UserTracingSettingsError")
      expect(error.path).toBe(path)
      expect(error.message).toBe(message)
    }))

  it("toString and stack are the name and the message", () => {
    const error = new UserTracingSettings.UserTracingSettingsError({ path: "output", message: "output is bad" })
    expect(String(error)).toBe("UserTracingSettingsError: output is bad")
    expect(error.stack).toBe("UserTracingSettingsError: output is bad")
  })
})

describe("layerConfig", () => {
  const fromConfig = settingsOf(UserTracingSettings.layerConfig())

  it.effect("none set: disabled", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([])(fromConfig)
      expect(settings.enabled).toBe(false)
    }))

  const socket = [["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"], [
    "USER_TRACING_ROUTING_HEADER_NAME",
    "x-route"
  ]] as const
  const url = [["USER_TRACING_URL", http.url], ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]] as const
  const durationFrom = (name: string, value: string) => `${name} ${durationRule} (got ${JSON.stringify(value)})`

  /** Variables that fail: what, the variables, the field path, the whole message. */
  const badVariables: ReadonlyArray<
    readonly [string, ReadonlyArray<readonly [string, string]>, string, string]
  > = [
    [
      "enabled without a service name",
      [["USER_TRACING_ENABLED", "true"], ...socket],
      "serviceName",
      "USER_TRACING_SERVICE_NAME is required when USER_TRACING_ENABLED=true"
    ],
    [
      "enabled without an output",
      [["USER_TRACING_ENABLED", "true"], ["USER_TRACING_SERVICE_NAME", "svc"]],
      "output",
      "USER_TRACING_SOCKET_PATH or USER_TRACING_URL is required when USER_TRACING_ENABLED=true"
    ],
    [
      "enabled with an unknown word",
      [["USER_TRACING_ENABLED", "maybe"]],
      "enabled",
      "USER_TRACING_ENABLED must be one of true, false, yes, no, on, off, 1, 0 (got \"maybe\")"
    ],
    [
      "both a socket path and a url",
      [["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"], ...url],
      "output",
      "USER_TRACING_SOCKET_PATH and USER_TRACING_URL cannot both be set: choose the Unix socket or the URL"
    ],
    [
      "a socket path without a routing header",
      [["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"]],
      "output.otlpUds.routingHeaderName",
      "USER_TRACING_ROUTING_HEADER_NAME is required when USER_TRACING_SOCKET_PATH is set"
    ],
    [
      "a url without a routing header",
      [["USER_TRACING_URL", http.url]],
      "output.otlpHttp.routingHeaderName",
      "USER_TRACING_ROUTING_HEADER_NAME is required when USER_TRACING_URL is set"
    ],
    [
      "a routing header name with a space",
      [["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"], ["USER_TRACING_ROUTING_HEADER_NAME", "x route"]],
      "output.otlpUds.routingHeaderName",
      "USER_TRACING_ROUTING_HEADER_NAME is not a valid HTTP header name (got \"x route\")"
    ],
    [
      "a number in hexadecimal (read as 16 before)",
      [...socket, ["USER_TRACING_NUM_TASKS", "0x10"]],
      "output.otlpUds.numTasks",
      "USER_TRACING_NUM_TASKS must be a decimal integer (got \"0x10\")"
    ],
    [
      "a number with an exponent",
      [...socket, ["USER_TRACING_MAX_BATCH_SIZE", "1e3"]],
      "output.otlpUds.maxBatchSize",
      "USER_TRACING_MAX_BATCH_SIZE must be a decimal integer (got \"1e3\")"
    ],
    [
      "a fraction",
      [...socket, ["USER_TRACING_NUM_TASKS", "1.5"]],
      "output.otlpUds.numTasks",
      "USER_TRACING_NUM_TASKS must be a decimal integer (got \"1.5\")"
    ],
    [
      "a number with junk inside",
      [...socket, ["USER_TRACING_MAX_ATTEMPTS", " 1 2 "]],
      "output.otlpUds.maxAttempts",
      "USER_TRACING_MAX_ATTEMPTS must be a decimal integer (got \" 1 2 \")"
    ],
    [
      "a number with a unit",
      [...socket, ["USER_TRACING_MAX_ATTEMPTS", "3x"]],
      "output.otlpUds.maxAttempts",
      "USER_TRACING_MAX_ATTEMPTS must be a decimal integer (got \"3x\")"
    ],
    [
      "a number past what a double holds exactly",
      [...socket, ["USER_TRACING_MAX_BATCH_BYTES", "99999999999999999999"]],
      "output.otlpUds.maxBatchBytes",
      "USER_TRACING_MAX_BATCH_BYTES must be a decimal integer (got \"99999999999999999999\")"
    ],
    [
      "a number out of range",
      [...socket, ["USER_TRACING_NUM_TASKS", "1000000000"]],
      "output.otlpUds.numTasks",
      "USER_TRACING_NUM_TASKS must be an integer from 1 to 256 (got \"1000000000\")"
    ],
    [
      "a queue bound that is a word",
      [["USER_TRACING_MAX_QUEUE_SIZE", "abc"]],
      "maxQueueSize",
      "USER_TRACING_MAX_QUEUE_SIZE must be a decimal integer or \"unbounded\" (got \"abc\")"
    ],
    [
      "a queue bound with a unit",
      [["USER_TRACING_MAX_QUEUE_BYTES", "64MB"]],
      "maxQueueBytes",
      "USER_TRACING_MAX_QUEUE_BYTES must be a decimal integer or \"unbounded\" (got \"64MB\")"
    ],
    [
      "a routing value bound that is not a decimal integer",
      [["USER_TRACING_MAX_ROUTING_VALUE_BYTES", "4k"]],
      "maxRoutingValueBytes",
      "USER_TRACING_MAX_ROUTING_VALUE_BYTES must be a decimal integer (got \"4k\")"
    ],
    [
      "a queue bound of 0",
      [["USER_TRACING_MAX_QUEUE_SIZE", "0"]],
      "maxQueueSize",
      "USER_TRACING_MAX_QUEUE_SIZE must be a positive integer or null (got \"0\")"
    ],
    [
      "USER_TRACING_NUM_TASKS=abc with no output (ignored before)",
      [["USER_TRACING_NUM_TASKS", "abc"]],
      "output.*.numTasks",
      "USER_TRACING_NUM_TASKS must be a decimal integer (got \"abc\")"
    ],
    [
      "an output variable out of range with no output",
      [["USER_TRACING_NUM_TASKS", "1000"]],
      "output.*.numTasks",
      "USER_TRACING_NUM_TASKS must be an integer from 1 to 256 (got \"1000\")"
    ],
    [
      "a routing header the exporter sets, with no output",
      [["USER_TRACING_ROUTING_HEADER_NAME", "Content-Type"]],
      "output.*.routingHeaderName",
      "USER_TRACING_ROUTING_HEADER_NAME is a header the exporter sets itself (got \"Content-Type\")"
    ],
    [
      "an unknown compression",
      [...socket, ["USER_TRACING_COMPRESSION", "zstd"]],
      "output.otlpUds.compression",
      "USER_TRACING_COMPRESSION must be \"none\" or \"gzip\" (got \"zstd\")"
    ],
    [
      "USER_TRACING_REQUEST_TIMEOUT=\"1 nanos\" (every export failed in the HTTP client before)",
      [...socket, ["USER_TRACING_REQUEST_TIMEOUT", "1 nanos"]],
      "output.otlpUds.requestTimeout",
      durationFrom("USER_TRACING_REQUEST_TIMEOUT", "1 nanos")
    ],
    [
      "USER_TRACING_REQUEST_TIMEOUT=0",
      [...url, ["USER_TRACING_REQUEST_TIMEOUT", "0"]],
      "output.otlpHttp.requestTimeout",
      durationFrom("USER_TRACING_REQUEST_TIMEOUT", "0")
    ],
    [
      "a request timeout of 30 days",
      [...socket, ["USER_TRACING_REQUEST_TIMEOUT", "30 days"]],
      "output.otlpUds.requestTimeout",
      durationFrom("USER_TRACING_REQUEST_TIMEOUT", "30 days")
    ],
    [
      "a shutdown timeout with an exponent",
      [["USER_TRACING_SHUTDOWN_TIMEOUT", "1e3"]],
      "shutdownTimeout",
      durationFrom("USER_TRACING_SHUTDOWN_TIMEOUT", "1e3")
    ],
    [
      "a shutdown timeout in fractional milliseconds",
      [["USER_TRACING_SHUTDOWN_TIMEOUT", "0.5"]],
      "shutdownTimeout",
      durationFrom("USER_TRACING_SHUTDOWN_TIMEOUT", "0.5")
    ],
    [
      "a url with credentials (dropped silently before); the message does not repeat them",
      [["USER_TRACING_URL", "http://user:pass@127.0.0.1:4318/v1/traces"], [
        "USER_TRACING_ROUTING_HEADER_NAME",
        "x-route"
      ]],
      "output.otlpHttp.url",
      "USER_TRACING_URL must not contain credentials (user:password@): send them with USER_TRACING_HEADERS (authorization=...)"
    ],
    [
      "a url that is not http",
      [["USER_TRACING_URL", "ftp://example.com/x"], ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]],
      "output.otlpHttp.url",
      "USER_TRACING_URL must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"
    ],
    [
      "the same header twice in another case (sent twice before)",
      [...url, ["USER_TRACING_HEADERS", "Authorization=first,authorization=second"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS: \"authorization\" repeats \"Authorization\" (header names are case-insensitive)"
    ],
    [
      "the same header twice (the last one won before)",
      [...url, ["USER_TRACING_HEADERS", "x-a=1,x-a=2"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS: \"x-a\" is given twice"
    ],
    [
      "an entry without =",
      [...url, ["USER_TRACING_HEADERS", "x-a=1,Bearer secret"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS must be a comma-separated list of name=value (values percent-encoded); entry 2 has no \"=\""
    ],
    [
      "an entry without a name",
      [...url, ["USER_TRACING_HEADERS", "=v"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS must be a comma-separated list of name=value (values percent-encoded); entry 1 has no name"
    ],
    [
      "a cut percent-escape",
      [...url, ["USER_TRACING_HEADERS", "k=%E0%A4%A"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS: the value of \"k\" is not percent-encoded UTF-8"
    ],
    [
      "a percent-escape that is not UTF-8 (a Latin-1 byte)",
      [...url, ["USER_TRACING_HEADERS", "k=caf%E9"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS: the value of \"k\" is not percent-encoded UTF-8"
    ],
    [
      "a value that decodes to a line break",
      [...url, ["USER_TRACING_HEADERS", "k=a%0D%0Ainjected:%201"]],
      "output.otlpHttp.headers.k",
      "USER_TRACING_HEADERS: \"k\" has a value that is not a legal header value (a control character)"
    ],
    [
      "a value that decodes to a space at the end",
      [...url, ["USER_TRACING_HEADERS", "k=abc%20"]],
      "output.otlpHttp.headers.k",
      "USER_TRACING_HEADERS: \"k\" has a value that starts or ends with a space or tab (the receiver would drop it)"
    ],
    [
      "a bad header name",
      [...url, ["USER_TRACING_HEADERS", "bad name=1"]],
      "output.otlpHttp.headers.bad name",
      "USER_TRACING_HEADERS: \"bad name\" is not a valid HTTP header name"
    ],
    [
      "a header the exporter sets",
      [...url, ["USER_TRACING_HEADERS", "content-type=text/plain"]],
      "output.otlpHttp.headers.content-type",
      "USER_TRACING_HEADERS: \"content-type\" is a header the exporter sets itself"
    ],
    [
      "the routing header among the static ones",
      [...url, ["USER_TRACING_HEADERS", "X-Route=1"]],
      "output.otlpHttp.headers.X-Route",
      "USER_TRACING_HEADERS: \"X-Route\" repeats the routing header name"
    ],
    [
      "headers with a socket",
      [...socket, ["USER_TRACING_HEADERS", "k=v"]],
      "output.otlpHttp.headers",
      "USER_TRACING_HEADERS applies to USER_TRACING_URL only"
    ]
  ]

  it.effect.each(badVariables)("%s", ([, vars, path, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromEnv(vars)(fromConfig))
      expect(error).toBeInstanceOf(UserTracingSettings.UserTracingSettingsError)
      expect(error).toMatchObject({ path, message })
    }))

  it.effect("a variable set to the empty string is unset (effect 4's environment provider reads it so)", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([["USER_TRACING_SERVICE_NAME", ""], ["USER_TRACING_NUM_TASKS", ""]])(fromConfig)
      expect(settings).toMatchObject({ enabled: false, serviceName: undefined })
      const error = yield* Effect.flip(
        fromEnv([
          ["USER_TRACING_ENABLED", "true"],
          ["USER_TRACING_SERVICE_NAME", "svc"],
          ["USER_TRACING_SOCKET_PATH", ""],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]
        ])(fromConfig)
      )
      expect(error.message).toBe(
        "USER_TRACING_SOCKET_PATH or USER_TRACING_URL is required when USER_TRACING_ENABLED=true"
      )
    }))

  it.effect("a socket path selects otlpUds, headers are percent-decoded", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([
        ["USER_TRACING_ENABLED", "true"],
        ["USER_TRACING_SERVICE_NAME", "svc"],
        ["USER_TRACING_URL", http.url],
        ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
        ["USER_TRACING_HEADERS", "authorization=Bearer%20abc,x-city=%E6%9D%B1%E4%BA%AC"],
        ["USER_TRACING_REQUEST_TIMEOUT", "2500"]
      ])(fromConfig)
      expect(settings.output).toMatchObject({
        otlpHttp: { url: http.url, headers: { authorization: "Bearer abc", "x-city": "東京" } }
      })
    }))
})

describe("loud configuration", () => {
  const logged = <A, E>(self: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      const lines: Array<string> = []
      const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
        lines.push(`${logLevel}: ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
      return Effect.map(
        Effect.exit(Effect.provideService(self, Logger.CurrentLoggers, new Set([logger]))),
        (exit) => [exit, lines] as const
      )
    })

  it.effect("unknown USER_TRACING_* names are warned with the closest known name; the start-up line says why disabled", () =>
    Effect.gen(function*() {
      const [, lines] = yield* logged(
        fromEnv([["USER_TRACING_ENABLD", "true"], ["USER_TRACING_SERVICE_NAME", "svc"]])(
          settingsOf(UserTracingSettings.layerConfig())
        )
      )
      expect(lines).toEqual([
        "Warn: USER_TRACING_ENABLD is not a user tracing setting and is ignored; did you mean USER_TRACING_ENABLED?",
        "Warn: USER_TRACING_SERVICE_NAME is set but USER_TRACING_ENABLED is not, so user tracing is disabled: set USER_TRACING_ENABLED=true to export",
        "Info: user tracing is disabled (USER_TRACING_ENABLED is not set): no user span is recorded or exported"
      ])
    }))

  it.effect("the start-up line of an enabled pipeline names the service, the output and the routing header", () =>
    Effect.gen(function*() {
      const [, lines] = yield* logged(
        settingsOf(UserTracingSettings.layerConfig()).pipe(fromEnv([
          ["USER_TRACING_ENABLED", "true"],
          ["USER_TRACING_SERVICE_NAME", "svc"],
          ["USER_TRACING_URL", "https://collector.internal:4318/v1/traces?token=abc"],
          ["USER_TRACING_HEADERS", "authorization=Bearer%20secret"],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]
        ]))
      )
      expect(lines).toEqual([
        "Info: user tracing is enabled: service \"svc\", OTLP/HTTP to https://collector.internal:4318/v1/traces?… (static headers: authorization), routing header x-route"
      ])
    }))
})
