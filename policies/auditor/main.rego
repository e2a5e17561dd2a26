# The aggregator: gathers `deny` from every package under data.auditor.rules, so adding a
# rules package needs no change here.
package auditor.main

violations contains v if {
	some v in data.auditor.rules[_].deny
}

# The rule catalogue: one metadata object per rules package.
rules contains meta if {
	meta := data.auditor.rules[_].metadata
}

# Rule ids defined more than once; the Python engine refuses to load when this is not empty.
duplicate_rule_ids contains id if {
	some id in {m.id | some m in rules}
	count({pkg | data.auditor.rules[pkg].metadata.id == id}) > 1
}
