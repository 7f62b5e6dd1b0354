package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionchat/sessionchat/memory"
)

// memoryCollector exports the memory store's holdings, which an operator
// of CHAT_MEMORY_LIMIT watches, read at scrape time.
type memoryCollector struct{ store *memory.Store }

var (
	descMemoryBytes = prometheus.NewDesc("chat_memory_store_bytes",
		"Bytes of history the memory store holds (CHAT_MEMORY_LIMIT caps it).", nil, nil)
	descMemoryRooms = prometheus.NewDesc("chat_memory_store_rooms",
		"Rooms the memory store holds.", nil, nil)
	descMemoryEvictions = prometheus.NewDesc("chat_memory_store_evictions_total",
		"Rooms evicted whole to stay under CHAT_MEMORY_LIMIT.", nil, nil)
)

func (memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMemoryBytes
	ch <- descMemoryRooms
	ch <- descMemoryEvictions
}

func (c memoryCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descMemoryBytes, prometheus.GaugeValue, float64(c.store.Bytes()))
	ch <- prometheus.MustNewConstMetric(descMemoryRooms, prometheus.GaugeValue, float64(c.store.Len()))
	ch <- prometheus.MustNewConstMetric(descMemoryEvictions, prometheus.CounterValue, float64(c.store.Evictions()))
}
