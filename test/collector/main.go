// Command collector runs the OpenTelemetry Collector's own OTLP receiver (HTTP protocol only) from
// a Collector configuration file and writes one JSON line per export request to stdout:
//
//	{"metadata":{"<header>":["<value>"],...},"traces":<ptrace.JSONMarshaler output>}
//
// The metadata is the request's client metadata (client.FromContext(ctx).Metadata), which holds the
// request headers when the receiver has include_metadata: true: it is what the Collector's routing
// connector and batch processor key on. Before any request it writes
//
//	{"listening":{"transport":"unix","endpoint":"/path/to/socket"}}
//
// once the receiver accepts connections. SIGTERM or SIGINT shuts the receiver down and exits 0.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

func main() {
	configPath := flag.String("config", "", "Collector configuration file (YAML); its receivers.<receiver> section is used")
	receiverID := flag.String("receiver", "otlp/user", "the receiver's id in the configuration file")
	transport := flag.String("transport", "", "overrides protocols.http.transport (unix or tcp)")
	endpoint := flag.String("endpoint", "", "overrides protocols.http.endpoint (a socket path, or host:port; port 0 picks a free one)")
	maxBodySize := flag.Int64("max-request-body-size", 0, "overrides protocols.http.max_request_body_size (bytes)")
	flag.Parse()
	if err := run(*configPath, *receiverID, *transport, *endpoint, *maxBodySize); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func run(configPath, receiverID, transport, endpoint string, maxBodySize int64) error {
	if configPath == "" {
		return errors.New("-config is required")
	}
	id, err := parseID(receiverID)
	if err != nil {
		return err
	}
	factory := otlpreceiver.NewFactory()
	if id.Type() != factory.Type() {
		return fmt.Errorf("receiver %q is not an otlp receiver", receiverID)
	}
	if transport != "" && transport != "unix" {
		// A free port for "host:0", so the caller learns the address from the listening line.
		if endpoint, err = resolvePort(endpoint); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(factory, configPath, receiverID, transport, endpoint, maxBodySize)
	if err != nil {
		return err
	}
	http := cfg.Protocols.HTTP.Get()

	out := &lineWriter{w: bufio.NewWriter(os.Stdout)}
	traces, err := consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
		return out.request(client.FromContext(ctx).Metadata, td)
	})
	if err != nil {
		return err
	}

	logger, err := zap.NewProductionConfig().Build()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	settings := receiver.Settings{
		ID: id,
		TelemetrySettings: component.TelemetrySettings{
			Logger:         logger,
			TracerProvider: tracenoop.NewTracerProvider(),
			MeterProvider:  metricnoop.NewMeterProvider(),
		},
		BuildInfo: component.NewDefaultBuildInfo(),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rcv, err := factory.CreateTraces(ctx, settings, cfg, traces)
	if err != nil {
		return err
	}
	if err := rcv.Start(ctx, noExtensions{}); err != nil {
		return err
	}
	// Start has bound the listener: from here connections are accepted.
	err = out.line(map[string]any{"listening": map[string]string{
		"transport": string(http.ServerConfig.NetAddr.Transport),
		"endpoint":  http.ServerConfig.NetAddr.Endpoint,
	}})
	if err == nil {
		<-ctx.Done()
	}
	// Shutdown waits for in-flight requests, so every accepted request is written before exit.
	return errors.Join(err, rcv.Shutdown(context.Background()))
}

// loadConfig reads receivers.<id> from the file, applies the command-line overrides, and checks
// the result as the Collector does; only the HTTP protocol may be configured.
func loadConfig(factory receiver.Factory, path, id, transport, endpoint string, maxBodySize int64) (*otlpreceiver.Config, error) {
	bytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	retrieved, err := confmap.NewRetrievedFromYAML(bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file, err := retrieved.AsConf()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key := "receivers" + confmap.KeyDelimiter + id
	if !file.IsSet(key) {
		return nil, fmt.Errorf("%s has no receivers.%s", path, id)
	}
	conf, err := file.Sub(key)
	if err != nil {
		return nil, err
	}
	if conf.IsSet("protocols::grpc") {
		return nil, errors.New("only the http protocol is supported")
	}
	overrides := map[string]any{}
	if transport != "" {
		overrides["transport"] = transport
	}
	if endpoint != "" {
		overrides["endpoint"] = endpoint
	}
	if maxBodySize != 0 {
		overrides["max_request_body_size"] = maxBodySize
	}
	if err := conf.Merge(confmap.NewFromStringMap(map[string]any{
		"protocols": map[string]any{"http": overrides},
	})); err != nil {
		return nil, err
	}
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	if err := conf.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("receivers.%s: %w", id, err)
	}
	if err := confmap.Validate(cfg); err != nil {
		return nil, fmt.Errorf("receivers.%s: %w", id, err)
	}
	if !cfg.Protocols.HTTP.HasValue() {
		return nil, fmt.Errorf("receivers.%s: protocols.http is not configured", id)
	}
	return cfg, nil
}

func parseID(text string) (component.ID, error) {
	var id component.ID
	err := id.UnmarshalText([]byte(text))
	return id, err
}

// resolvePort replaces port 0 by a port that was free a moment ago.
func resolvePort(endpoint string) (string, error) {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || port != "0" {
		return endpoint, nil
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer listener.Close()
	return listener.Addr().String(), nil
}

// noExtensions is a host without extensions: the configuration may reference none.
type noExtensions struct{}

func (noExtensions) GetExtensions() map[component.ID]component.Component { return nil }

// lineWriter writes whole JSON lines, one at a time, flushed at once.
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) line(value any) error {
	bytes, err := json.Marshal(value)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(append(bytes, '\n')); err != nil {
		return err
	}
	return l.w.Flush()
}

var tracesMarshaler = &ptrace.JSONMarshaler{}

func (l *lineWriter) request(metadata client.Metadata, td ptrace.Traces) error {
	traces, err := tracesMarshaler.MarshalTraces(td)
	if err != nil {
		return err
	}
	// encoding/json writes map keys sorted, so equal metadata gives equal lines.
	headers := map[string][]string{}
	for key := range metadata.Keys() {
		headers[strings.ToLower(key)] = metadata.Get(key)
	}
	return l.line(map[string]any{"metadata": headers, "traces": json.RawMessage(traces)})
}
