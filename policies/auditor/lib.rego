# Helpers shared by every rules package. Only lookups and constructors: no verdicts here.
package auditor.lib

# The registry entry of the interaction's tool; undefined when the tool is not registered.
tool := data.auditor_data.tools[input.interaction.tool]

registered if tool

# A tool missing from the registry is treated as outside PCI scope, without an NPI contract,
# external, not captured and not inventoried: unknown means not shown to be safe.
in_pci_scope if tool.pci_scope == true

has_npi_contract if tool.npi_contract == true

internal_destination if tool.destination == "internal"

captured if tool.captured == true

inventoried if {
	is_string(tool.model_inventory_id)
	tool.model_inventory_id != ""
}

# The tool's log retention in days; null when the registry records none or not a number.
# (Read through this, never as `not is_number(tool.log_retention_days)`: OPA evaluates a
# function call on an undefined value as undefined, so `not` of it fails on OPA and succeeds
# on regorus when the key is missing.)
retention_days := d if {
	d := tool.log_retention_days
	is_number(d)
} else := null

# The day the directory says the user completed AI-literacy training; null when it says none.
literacy_completed_on := d if {
	d := input.user.ai_literacy_completed_on
	is_string(d)
} else := null

# The interaction's workflow tag, or "" when the log gave none.
workflow := w if {
	w := input.interaction.workflow
	is_string(w)
} else := ""

# The UTC calendar day of the interaction, YYYY-MM-DD (ISO dates compare as strings);
# undefined when the input's time is not a string.
day := substring(input.interaction.occurred_at, 0, 10) if is_string(input.interaction.occurred_at)

# How messages name the tool; logs without a tool name still get a readable message.
tool_label := input.interaction.tool if {
	is_string(input.interaction.tool)
} else := "an unnamed tool"

# How messages name the workflow.
workflow_label := workflow if {
	workflow != ""
} else := "no workflow"

# A detection's highest score. A score that is not a number counts as certain: the scanner
# reported the type, and unknown means not shown to be safe.
score(d) := s if {
	s := d.max_score
	is_number(s)
} else := 1

# A detection's count. Anything but a whole number of at least one counts as one: the entry
# says the type was found at least once.
times(d) := c if {
	c := d.count
	is_number(c)
	c >= 1
	c == round(c)
} else := 1

# The entity types among `types` detected with a highest score of at least `min_score`.
# Looks each listed type up in the input's detections, so a detections value that is not an
# object matches nothing on every engine.
detected(types, min_score) := {t |
	some t
	d := input.detections[t]
	t in types
	score(d) >= min_score
}

# Total detections of the given entity types.
detection_count(types) := sum([times(d) | some t; d := input.detections[t]; t in types])

# A rule's severity after the firm's overrides (data/severity_overrides.json).
base_severity(meta) := object.get(data.auditor_data.severity_overrides, meta.id, meta.severity)

# A violation object as the aggregator and the Python engine expect it.
violation(meta, message, entity_types) := violation_as(meta, base_severity(meta), message, entity_types)

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
