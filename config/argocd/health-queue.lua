-- Argo CD health of a kickq Queue (kickq.dev/v1alpha1). Progressing until the manager has
-- observed the queue's latest spec (status.observedGeneration); Suspended while spec.paused;
-- Degraded when its Ready condition is False; else Healthy, with the queue's counts.
local hs = {status = "Progressing", message = "waiting for the kickq manager to observe the queue"}
if obj.status == nil or obj.status.observedGeneration == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "the kickq manager has not observed the latest spec yet"
  return hs
end
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" and c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.reason .. ": " .. (c.message or "")
      return hs
    end
  end
end
local counts = obj.status.counts or {}
hs.message = string.format("pending %d, running %d, succeeded %d, failed %d",
  counts.pending or 0, counts.running or 0, counts.succeeded or 0, counts.failed or 0)
if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "spec.paused: no new attempts start; " .. hs.message
  return hs
end
hs.status = "Healthy"
return hs
