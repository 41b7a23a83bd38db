package runtime

import "testing"

// TestInProcessTransport runs the publish-subscribe and request-response
// behaviour tests again over the in-process (heap-backed) implementation
// of shared memory, which the race detector can see into:
// `go test -race -run InProcess`.
func TestInProcessTransport(t *testing.T) {
	inProcess = true
	t.Cleanup(func() { inProcess = false })
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"basic", TestPublishSubscribeInProcess},
		{"safe overflow", TestSafeOverflowKeepsTheNewest},
		{"discard", TestDiscardDataWithoutSafeOverflow},
		{"retry", TestRetryUntilDeliveredWaitsForRoom},
		{"history", TestLateJoinerGetsHistoryFromIdlePublisher},
		{"history request", TestHistoryRequestLimitsHistory},
		{"no loss on discovery", TestSendReachesSubscriberCreatedJustBefore},
		{"limits", TestBorrowAndLoanLimits},
		{"compatibility", TestOpenChecksTypesQoSAndAttributes},
		{"lifetime", TestLastNodeRemovesService},
		{"reclaim", TestChunksOfClosedSubscriberReturnToPool},
		{"allocations", TestHotPathAllocatesNothing},
		{"concurrent", TestConcurrentPublishersAndSubscribers},
		{"request-response", TestRequestResponseInProcess},
		{"response routing", TestResponsesReachOnlyTheirPendingResponse},
		{"request-response limits", TestMaxActiveRequestsAndLimits},
		{"give up a request", TestClosedPendingResponseDisconnectsAndDropsLateResponses},
		{"fire and forget", TestFireAndForget},
		{"response overflow", TestResponseOverflowAndBackpressure},
		{"request overflow", TestRequestOverflow},
		{"client and server close", TestClientAndServerCloseDisconnect},
		{"request-response slices", TestRequestResponseSlices},
		{"request-response zero copy", TestRequestResponseZeroCopy},
		{"request-response allocations", TestRequestResponseHotPathAllocatesNothing},
		{"request-response concurrent", TestConcurrentClientsAndServers},
		{"hostile requests", TestHostileRequestsAreDropped},
		{"raw", TestRawFixedBothWays},
		{"raw slices", TestRawSliceBothWays},
		{"raw hostile length", TestRawLengthFromHostilePublisherIsDropped},
	} {
		t.Run(tc.name, tc.f)
	}
}
