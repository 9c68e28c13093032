// Package deploytest checks how the daemon ships, without a Docker engine or
// a cluster. It holds tests only:
//
//   - The Dockerfile: base images pinned by digest; every file the build of
//     ./cmd/multilink reads is in the build context after .dockerignore and
//     is copied in; the binary the build writes is the one the final stage
//     copies; every flag ENTRYPOINT and CMD pass is one `multilink daemon
//     --help` lists; the HEALTHCHECK asks /health on the port CMD listens on.
//   - The Helm charts in charts/: `helm lint --strict` and `helm template`
//     with the default values and each charts/<chart>/ci/*.yaml (the spec's
//     example values among them), then the rendered objects: host network,
//     capabilities (drop ALL, then exactly the ones the daemon needs), no
//     privileged container, HTTPS probes on /health, the token from a
//     Secret, the API's TLS flags (--tls-cert/--tls-key into a read-only
//     mount of api.tls.existingSecret, --insecure-plain-http only with
//     api.insecurePlainHttp), and the config file, which must parse as the
//     daemon's (config.ParseFile) and say what the values say. NOTES.txt
//     must curl over https with the pin `multilink fingerprint` gives.
//     values.schema.json must refuse bad values.
//   - Monitoring: the ServiceMonitor selects the chart's Service, the
//     PodMonitor (one or the other) the chart's pods, and both scrape the
//     api port at /metrics over https with their tlsConfig as given; the
//     dashboards' ConfigMaps carry the values' label, namespace and
//     annotations and hold files/dashboard.json and
//     files/fleet-dashboard.json as they are. Those Grafana dashboards, each
//     the same file in both charts, are checked on their own: Grafana's
//     shape, no datasource but the ${datasource} variable, and every metric,
//     label and label value their PromQL names exported by the daemon:
//     daemon.Collectors over the roles' collectors, built over fakes, are
//     gathered and asked to Describe. The PrometheusRule's expressions are
//     read by Prometheus's own parser (so are the dashboards' queries, once
//     Grafana's variables are put in PromQL terms) and checked the same way,
//     then run by promtool over synthetic series: each alert must fire for
//     its trouble and not for healthy series.
//   - The Debian package (TestDeb): make deb builds v1 for amd64 and arm64
//     and v2 for amd64; dpkg-deb shows their control fields, files, modes,
//     conffiles and maintainer scripts; debug/elf their binaries' machine
//     (static, x86-64 and AArch64); systemd-analyze verify checks the unit
//     in a root made of the package's files (and fails without the
//     ExecStart binary). Then debootstrap (minbase, bookworm, this host's
//     apt mirror) makes a throwaway root where apt installs v1 (pulling
//     openvpn), upgrades to v2, removes and purges it, with a recording
//     systemctl standing in for systemd: files, modes, the enable link,
//     the edited conffile kept, start/restart/stop taken at the right step,
//     and after purge no config, state dir, enable link or mask. Then that
//     root, with systemd added, boots under systemd-nspawn: the package's
//     postinst starts the unit under a real systemd, a hub (the unit) and a
//     gateway (a second instance of it in another network namespace) bond
//     over real OpenVPN tunnels with every sandboxing setting in force, and
//     systemctl stop leaves nothing. It needs root, debootstrap, the mirror
//     and systemd-nspawn: it skips without them, and fails under CI. TestDebConfigExamples parses the shipped config (nothing
//     declared) and its examples, uncommented, with config.ParseFile.
//
// Helm comes from the Go module proxy (HelmModule at HelmVersion), built
// once per test run into a temporary directory. A test skips only when Helm
// cannot be built, and fails instead when the CI environment variable is
// set: CI promises the module proxy.
package deploytest
