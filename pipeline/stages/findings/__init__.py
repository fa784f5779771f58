"""Stage 6, findings: the findings file's claims checked against the evidence
(:mod:`pipeline.stages.findings.check`), and the quotes chosen for them
(:mod:`pipeline.stages.findings.quotes`)."""
