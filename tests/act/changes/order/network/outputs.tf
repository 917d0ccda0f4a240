# What app reads (projects[].inputs): the network's security group id.
output "sg_id" {
  value = aws_security_group.app.id
}
