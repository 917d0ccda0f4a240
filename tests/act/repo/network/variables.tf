variable "environment" {
  type = string
}

variable "region" {
  type = string
}
