package payment

// Waiting counts the callers of WaitOrder waiting on an order.
func (s *Service) Waiting(orderNo string) int { return s.watch.waiting(orderNo) }
