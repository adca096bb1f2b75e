//go:build !race

package server_test

// raceDetector says whether the tests run under the race detector, which
// instruments every memory access and so changes what timing measures.
const raceDetector = false
