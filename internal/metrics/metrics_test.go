package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/wecom-home-ops/wecom-home-ops/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestSeries(t *testing.T) {
	depth := 3
	m := metrics.New(func() int { return depth })
	m.Callback(metrics.OutcomeAccepted)
	m.Command("start", "ok")
	m.PVERequest("home", 20*time.Millisecond, true)
	m.PVERequest("lab", time.Second, false)
	m.WeComSendError(60020)
	m.WeComSendError(0)
	m.AlertsFiring.WithLabelValues("node_offline").Set(2)
	m.Reload(true, time.Unix(1700000000, 0))
	m.Reload(false, time.Unix(1700000100, 0))
	got := scrape(t, m)
	for _, want := range []string{
		`wecom_home_ops_callbacks_total{outcome="accepted"} 1`,
		`wecom_home_ops_callbacks_total{outcome="busy"} 0`,
		`wecom_home_ops_commands_total{command="start",result="ok"} 1`,
		`wecom_home_ops_pve_request_duration_seconds_count{cluster="home"} 1`,
		`wecom_home_ops_pve_up{cluster="home"} 1`,
		`wecom_home_ops_pve_up{cluster="lab"} 0`,
		`wecom_home_ops_wecom_send_errors_total{errcode="60020"} 1`,
		`wecom_home_ops_wecom_send_errors_total{errcode="network"} 1`,
		`wecom_home_ops_alerts_firing{rule="node_offline"} 2`,
		`wecom_home_ops_queue_depth 3`,
		`config_reload_success 0`,
		`config_last_reload_success_timestamp_seconds 1.7e+09`,
	} {
		t.Run(want, func(t *testing.T) {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("scrape does not contain %q; got:\n%s", want, got)
			}
		})
	}
	m.ForgetCluster("lab")
	if got := scrape(t, m); strings.Contains(got, `cluster="lab"`) {
		t.Errorf("after ForgetCluster the scrape still has cluster lab")
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *metrics.Metrics
	m.Callback(metrics.OutcomeBusy)
	m.Command("list", "ok")
	m.PVERequest("home", time.Millisecond, true)
	m.WeComSendError(1)
	m.Reload(true, time.Now())
	m.ForgetCluster("home")
}
