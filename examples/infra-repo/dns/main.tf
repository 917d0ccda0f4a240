resource "aws_route53_zone" "main" {
  name = "${var.environment}.example.internal"
}
