// Command collector is an OpenTelemetry Collector built from the Collector's own modules, all at
// one release, with the components docs/deployment.md uses: the otlp receiver, the batch
// processor, the headers_setter extension, the otlp_http and debug exporters and the routing
// connector. It is what the Collector's builder generates for that list, written by hand so the
// test loop needs only `go build`, with a smaller command line: `--config`, repeated (paths or
// file:, env:, yaml: URIs, merged in order).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/routingconnector"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/headerssetterextension"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	if factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return factories, err
	}
	if factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](batchprocessor.NewFactory()); err != nil {
		return factories, err
	}
	if factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		otlphttpexporter.NewFactory(),
		debugexporter.NewFactory(),
	); err != nil {
		return factories, err
	}
	if factories.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](headerssetterextension.NewFactory()); err != nil {
		return factories, err
	}
	if factories.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](routingconnector.NewFactory()); err != nil {
		return factories, err
	}
	return factories, nil
}

func main() {
	var configs configFlag
	flag.Var(&configs, "config", "a configuration file; several are merged in order (repeatable)")
	flag.Parse()
	if len(configs) == 0 {
		log.Fatal("collector: at least one --config is required")
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "user-tracing-collector",
			Description: "OpenTelemetry Collector for effect-user-tracing's tests and local runs",
			Version:     release(),
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs:          configs,
				DefaultScheme: "env",
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
		// The Collector would listen for SIGTERM and SIGINT itself only once it is running: a
		// signal before that would kill it outright. Caught here from the start instead, a signal
		// asks for the graceful shutdown at any time.
		DisableGracefulShutdown: true,
	})
	if err != nil {
		log.Fatalf("collector: %v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		col.Shutdown()
	}()
	if err := col.Run(context.Background()); err != nil {
		log.Fatalf("collector: %v", err)
	}
}

// configFlag collects repeated --config values, each a path or a provider URI (file:, env:, yaml:).
type configFlag []string

func (c *configFlag) String() string { return strings.Join(*c, ",") }

func (c *configFlag) Set(value string) error {
	if scheme, _, found := strings.Cut(value, ":"); !found || strings.ContainsAny(scheme, "/.") {
		value = "file:" + value
	}
	*c = append(*c, value)
	return nil
}

// release is the version of the otelcol module this binary was built with: go.mod names it once.
func release() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "go.opentelemetry.io/collector/otelcol" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
