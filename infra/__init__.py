"""The CDK side of aiflows: one construct per concern, composed by one stack."""
