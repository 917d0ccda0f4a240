resource "aws_security_group" "app" {
  name        = "acme-${var.environment}-app"
  description = "HTTPS inside the network"

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }

  tags = {
    environment = var.environment
    service     = "network"
    owner       = "platform"
    release     = "10"
  }
}
