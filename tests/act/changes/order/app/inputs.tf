# Passed by phasegate from network's output sg_id (projects[].inputs).
variable "network_sg_id" {
  type = string
}
