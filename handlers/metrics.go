package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionchat/sessionchat/chat"
)

// metrics are the chat's Prometheus metrics, in a registry of their own.
// No label carries a room, a name, a message or a token.
type metrics struct {
	registry *prometheus.Registry
	rejected *prometheus.CounterVec
	postTime prometheus.Histogram
}

func newMetrics(svc *chat.Service, hub *chat.Hub, more ...prometheus.Collector) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_rejected_requests_total",
			Help: "Requests refused, by reason (invalid, rate_limited, store_unavailable, ...).",
		}, []string{"reason"}),
		postTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chat_post_duration_seconds",
			Help:    "Time to answer a message post, stored and published.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
		}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.rejected, m.postTime,
		chatCollector{svc: svc, hub: hub},
	)
	m.registry.MustRegister(more...)
	return m
}

// observe counts a finished request.
func (m *metrics) observe(method, path string, code int, reason string, elapsed time.Duration) {
	if reason != "" {
		m.rejected.WithLabelValues(reason).Inc()
	}
	if method == http.MethodPost && strings.HasSuffix(path, "/messages") && code < 400 {
		m.postTime.Observe(elapsed.Seconds())
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// chatCollector reads the domain's counts at scrape time: the hot paths
// only bump atomics.
type chatCollector struct {
	svc *chat.Service
	hub *chat.Hub
}

var (
	descPosts       = prometheus.NewDesc("chat_posts_total", "Messages stored and published.", nil, nil)
	descStoreErrors = prometheus.NewDesc("chat_store_errors_total", "Store calls that failed.", nil, nil)
	descDeliveries  = prometheus.NewDesc("chat_deliveries_total", "Events queued for streams on this instance.", nil, nil)
	descDropped     = prometheus.NewDesc("chat_dropped_streams_total", "Streams dropped for falling behind (they resume).", nil, nil)
	descStreams     = prometheus.NewDesc("chat_streams", "Event streams open on this instance.", nil, nil)
	descRooms       = prometheus.NewDesc("chat_rooms", "Rooms with streams on this instance.", nil, nil)
)

func (chatCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPosts, descStoreErrors, descDeliveries, descDropped, descStreams, descRooms} {
		ch <- d
	}
}

func (c chatCollector) Collect(ch chan<- prometheus.Metric) {
	s, h := c.svc.Stats(), c.hub.Stats()
	ch <- prometheus.MustNewConstMetric(descPosts, prometheus.CounterValue, float64(s.Posts))
	ch <- prometheus.MustNewConstMetric(descStoreErrors, prometheus.CounterValue, float64(s.StoreErrors))
	ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(h.Delivered))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(h.Dropped))
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(h.Subscribers))
	ch <- prometheus.MustNewConstMetric(descRooms, prometheus.GaugeValue, float64(h.Rooms))
}
