// Package metrics holds the bot's Prometheus metrics in a registry of its own (not the
// process-wide default), so that several bots in one test binary never share counters
// and /metrics shows only what this bot knows.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "wecom_home_ops"

// Callback outcomes (label "outcome" of CallbacksTotal).
const (
	OutcomeAccepted = "accepted" // verified and queued (or a duplicate): 200
	OutcomeVerify   = "verify"   // the URL verification GET WeCom sends when the callback is saved
	OutcomeRejected = "rejected" // bad signature, bad body, stale timestamp: 4xx
	OutcomeBusy     = "busy"     // queue full: 503, WeCom retries
	OutcomeError    = "error"    // any other 5xx
)

// Metrics is every series the bot exports. The zero value is not usable: call New.
// All methods are safe for concurrent use and accept a nil *Metrics (they do nothing),
// so code that records metrics need not check whether observability is wired.
type Metrics struct {
	reg *prometheus.Registry

	callbacks       *prometheus.CounterVec
	commands        *prometheus.CounterVec
	pveLatency      *prometheus.HistogramVec
	pveUp           *prometheus.GaugeVec
	wecomSendErrors *prometheus.CounterVec
	// AlertsFiring is the number of alerts currently firing, by rule; the alert engine
	// sets it (Set, not Inc: it knows the whole state after each evaluation).
	AlertsFiring        *prometheus.GaugeVec
	reloadSuccess       prometheus.Gauge
	reloadLastSuccessTS prometheus.Gauge
}

// New registers every metric in a new registry. queueDepth, when not nil, is read at
// each scrape for the inbox depth gauge.
func New(queueDepth func() int) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "callbacks_total",
		Help: "WeCom callbacks received, by outcome (accepted, verify, rejected, busy, error).",
	}, []string{"outcome"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "commands_total",
		Help: "Commands handled, by command name and result (ok, refused, error).",
	}, []string{"command", "result"})
	m.pveLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "pve_request_duration_seconds",
		Help:    "Duration of PVE API requests made by the health probe, by cluster.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"cluster"})
	m.pveUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "pve_up",
		Help: "1 when the cluster's last request reached PVE, 0 when it did not (unreachable, TLS, token rejected).",
	}, []string{"cluster"})
	m.wecomSendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "wecom_send_errors_total",
		Help: "Replies WeCom did not accept, by errcode (\"network\" when no errcode came back).",
	}, []string{"errcode"})
	m.AlertsFiring = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "alerts_firing",
		Help: "Alerts currently firing, by rule.",
	}, []string{"rule"})
	m.reloadSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "config_reload_success",
		Help: "1 when the last config (re)load succeeded, 0 when the last reload was refused and the bot runs on the previous config.",
	})
	m.reloadLastSuccessTS = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful config load or reload.",
	})
	m.reg.MustRegister(m.callbacks, m.commands, m.pveLatency, m.pveUp, m.wecomSendErrors,
		m.AlertsFiring, m.reloadSuccess, m.reloadLastSuccessTS,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queueDepth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "queue_depth",
			Help: "Messages accepted from WeCom and not yet handled.",
		}, func() float64 { return float64(queueDepth()) }))
	}
	for _, o := range []string{OutcomeAccepted, OutcomeVerify, OutcomeRejected, OutcomeBusy, OutcomeError} {
		m.callbacks.WithLabelValues(o) // every outcome shows, at 0, from the first scrape
	}
	return m
}

// Registry is the registry behind Handler, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Callback counts one callback by outcome.
func (m *Metrics) Callback(outcome string) {
	if m == nil {
		return
	}
	m.callbacks.WithLabelValues(outcome).Inc()
}

// Command counts one handled command.
func (m *Metrics) Command(name, result string) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(name, result).Inc()
}

// PVERequest records one PVE request's duration and whether it reached PVE.
func (m *Metrics) PVERequest(cluster string, d time.Duration, reached bool) {
	if m == nil {
		return
	}
	m.pveLatency.WithLabelValues(cluster).Observe(d.Seconds())
	m.PVEUp(cluster, reached)
}

// PVEUp sets a cluster's reachability.
func (m *Metrics) PVEUp(cluster string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.pveUp.WithLabelValues(cluster).Set(v)
}

// ForgetCluster drops the series of a cluster removed by a reload.
func (m *Metrics) ForgetCluster(cluster string) {
	if m == nil {
		return
	}
	m.pveUp.DeleteLabelValues(cluster)
	m.pveLatency.DeleteLabelValues(cluster)
}

// WeComSendError counts a reply WeCom refused; errcode 0 means no errcode came back
// (network error, HTTP status).
func (m *Metrics) WeComSendError(errcode int) {
	if m == nil {
		return
	}
	label := "network"
	if errcode != 0 {
		label = strconv.Itoa(errcode)
	}
	m.wecomSendErrors.WithLabelValues(label).Inc()
}

// Reload records a config load or reload: ok false keeps the last success time.
func (m *Metrics) Reload(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if ok {
		m.reloadSuccess.Set(1)
		m.reloadLastSuccessTS.Set(float64(at.UnixNano()) / 1e9)
		return
	}
	m.reloadSuccess.Set(0)
}
