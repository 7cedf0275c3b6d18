-- Argo CD health of a kickq QueueJob (kickq.dev/v1alpha1). It reads what the manager writes:
-- observedGeneration and the Reconciling, Stalled and Suspended conditions (the phase only as a
-- fallback). Progressing: waiting, delayed, held by a limit or running. Degraded: failed, or
-- blocked on its configuration (no queue, no handler, a denied target). Suspended: spec.suspend,
-- or a suspended cron template. Healthy: succeeded, or a cron template.
local hs = {status = "Progressing", message = "waiting for the kickq manager to observe the job"}
if obj.status == nil or obj.status.observedGeneration == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "the kickq manager has not observed the latest spec yet"
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function holds(t)
  return conditions[t] ~= nil and conditions[t].status == "True"
end
local message = obj.status.message or ""
if holds("Stalled") then
  hs.status = "Degraded"
  hs.message = conditions["Stalled"].reason .. ": " .. (conditions["Stalled"].message or "")
  return hs
end
if obj.status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = (obj.status.reason or "Failed") .. ": " .. message
  return hs
end
if obj.status.phase == "Scheduled" then
  if obj.spec.cron ~= nil and obj.spec.cron.suspend == true then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = message
  return hs
end
if holds("Suspended") then
  hs.status = "Suspended"
  hs.message = "spec.suspend holds the job"
  return hs
end
if obj.status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end
hs.message = (obj.status.phase or "Pending") .. ": " .. message
return hs
