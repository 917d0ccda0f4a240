module "tags" {
  source      = "../modules/tags"
  environment = var.environment
  service     = "network"
}

resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags       = module.tags.tags
}

output "vpc_id" {
  value = aws_vpc.main.id
}
