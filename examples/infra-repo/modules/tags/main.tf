# Shared module: the tags every resource carries. Called by network and app;
# phasegate init leaves it out of the projects because only others call it.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "environment" {
  type = string
}

variable "service" {
  type = string
}

output "tags" {
  value = {
    environment = var.environment
    service     = var.service
    managed_by  = "terraform"
  }
}
