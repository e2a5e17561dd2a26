# Card numbers (PAN) and sensitive authentication data (card security codes, track data and
# PIN blocks: PCI DSS Req. 3.3.1 forbids keeping them after authorisation at all) must stay
# inside PCI scope. An expiry date is cardholder data only beside a PAN, which fires already.
package auditor.rules.pci

metadata := {
	"id": "card-data-outside-pci-scope",
	"monitor": true,
	"severity": "critical",
	"title": "Card data sent to a tool outside PCI scope",
	"description": "A payment card number, or sensitive authentication data (a card security code, track data or a PIN block), was detected with high confidence in an interaction with a tool that is not inside the bank's PCI DSS scope.",
	"remediation": "Delete the card data from the tool's history if it allows, tell the card-data owner, and route card work to a tool inside PCI scope.",
	"references": ["PCI DSS v4.0.1 Req. 4.2.2", "PCI DSS v4.0.1 Req. 3.5.1", "PCI DSS v4.0.1 Req. 3.3.1"],
}

params := data.auditor_data.thresholds[metadata.id]

deny contains v if {
	types := data.auditor.lib.detected(params.entity_types, params.min_score)
	count(types) > 0
	not data.auditor.lib.in_pci_scope
	msg := sprintf(
		"%d %s detection(s) in an interaction with %s, which is outside PCI scope",
		[data.auditor.lib.detection_count(types), noun(types), data.auditor.lib.tool_label],
	)
	v := data.auditor.lib.violation(metadata, msg, types)
}

# What the message calls the detections: card numbers, or card data when a security code or
# track data is among them.
noun(types) := "card number" if types == {"CREDIT_CARD"}

else := "card data"
