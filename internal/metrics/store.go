package metrics

import "time"

// ObserveQuery records one store operation: the stores call it (as their
// sqlstore.Observer, see ObserveWith) once per operation, under its Store
// method name, where the operation runs. Each call counts in
// keywarden_store_queries_total and keywarden_store_query_duration_seconds
// under op, and a failure other than ENOTFOUND in
// keywarden_store_errors_total. Ping and Close are not reported: neither is
// a query of Keywarden's data, and counting the /readyz probe's Ping would
// skew the queries-per-request figure the load test reads from
// StoreQueries.
func (m *Metrics) ObserveQuery(op string, d time.Duration, err error) {
	m.observeStore(op, d, err)
}

// unmeasured names the Store methods the stores do not report.
func unmeasured(op string) bool { return op == "Ping" || op == "Close" }
