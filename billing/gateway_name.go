package billing

// GatewayName names the payment gateway the service charges ("sandbox", "stripe"): the
// billing portal shows the sandbox's test cards only when it is the sandbox.
func (s *Service) GatewayName() string { return s.gateway.Name() }
