# The aggregator: gathers `deny` from every package under data.auditor.rules, so adding a
# rules package needs no change here.
package auditor.main

violations contains v if {
	some v in data.auditor.rules[_].deny
}

# The rule catalogue: one metadata object per rules package, with the firm's severity.
rules contains object.union(meta, {"severity": data.auditor.lib.base_severity(meta)}) if {
	meta := data.auditor.rules[_].metadata
}

# Rule ids defined more than once; the Python engine refuses to load when this is not empty.
duplicate_rule_ids contains id if {
	some id in package_rule_ids
	count([other | some other in package_rule_ids; other == id]) > 1
}

# One rule id per rules package, in no particular order.
package_rule_ids := [meta.id | meta := data.auditor.rules[_].metadata]
