# Helpers shared by every rules package. Only lookups and constructors: no verdicts here.
package auditor.lib

# The registry entry of the interaction's tool; undefined when the tool is not registered.
tool := data.auditor_data.tools[input.interaction.tool]

registered if input.interaction.tool in object.keys(data.auditor_data.tools)

# A tool missing from the registry is treated as outside PCI scope and without an NPI
# contract: unknown means not shown to be safe.
in_pci_scope if tool.pci_scope == true

has_npi_contract if tool.npi_contract == true

# How messages name the tool; logs without a tool name still get a readable message.
tool_label := input.interaction.tool if {
	is_string(input.interaction.tool)
} else := "an unnamed tool"

# The entity types among `types` detected with a max score of at least `min_score`.
detected(types, min_score) := {t |
	some t in types
	input.detections[t].max_score >= min_score
}

# Total detections of the given entity types.
detection_count(types) := sum([input.detections[t].count | some t in types])

# A violation object as the aggregator and the Python engine expect it.
violation(meta, message, entity_types) := violation_as(meta, meta.severity, message, entity_types)

# The same, with a severity that differs from the rule's base severity (escalation).
violation_as(meta, severity, message, entity_types) := {
	"rule_id": meta.id,
	"severity": severity,
	"title": meta.title,
	"message": message,
	"remediation": meta.remediation,
	"references": meta.references,
	"entity_types": sort(entity_types),
}
