"""Who may do what: the Bedrock role's trust and S3 scope, each function's grants, no wildcard actions."""

from __future__ import annotations

BUCKET_ARN = "<import:DistillData:ExportsOutputFnGetAttBucket83908E77Arn063C8555>"
BEDROCK_ROLE = "BedrockServiceRole"
PREFIX = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>"


def _bedrock_role(synth):
    (role,) = (r for key, r in synth.resources("AWS::IAM::Role").items() if key.startswith(BEDROCK_ROLE))
    return role


def _role_of(synth, function_prefix: str) -> str:
    return f"Functions{function_prefix}Role"


def test_given_default_config_when_synthesized_then_bedrock_role_trust_policy_is_exactly_the_guarded_service(synth):
    trust = _bedrock_role(synth)["Properties"]["AssumeRolePolicyDocument"]
    assert trust == {
        "Version": "2012-10-17",
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
                    "arn:", {"Ref": "AWS::Partition"}, ":bedrock:", {"Ref": "AWS::Region"}, ":",
                    {"Ref": "AWS::AccountId"}, ":model-customization-job/*"]]}},
            },
        }],
    }  # fmt: skip


def test_given_default_config_when_synthesized_then_bedrock_role_reads_datasets_and_uses_jobs_only(synth):
    # As AWS's customization-role example grants it: training data read+list, output read+write+list.
    statements = synth.statements(BEDROCK_ROLE)
    assert {(a, r) for s in statements for a in s["Action"] for r in s["Resource"] if a.startswith("s3:")} == {
        ("s3:GetObject", f"{BUCKET_ARN}/datasets/*"),
        ("s3:GetObject", f"{BUCKET_ARN}/invocation-logs/*"),  # a run from the invocation logs
        ("s3:GetObject", f"{BUCKET_ARN}/jobs/*"),
        ("s3:PutObject", f"{BUCKET_ARN}/jobs/*"),
        ("s3:ListBucket", BUCKET_ARN),
    }
    listings = sorted(s["Condition"]["StringLike"]["s3:prefix"] for s in statements if "s3:ListBucket" in s["Action"])
    assert listings == [["datasets/*"], ["invocation-logs/*"], ["jobs/*"]]
    assert all(s.get("Condition") for s in statements if "s3:ListBucket" in s["Action"])
    assert not _bedrock_role(synth)["Properties"].get("ManagedPolicyArns")


def test_given_cross_region_teachers_allowed_when_synthesized_then_the_bedrock_role_may_invoke_them_everywhere(synth):
    # The user guide: the profile in its Region and the model in every Region of the profile.
    invoke = {r for s in synth.statements(BEDROCK_ROLE) if "bedrock:InvokeModel" in s["Action"] for r in s["Resource"]}
    assert invoke == {
        f"{PREFIX}:inference-profile/us.amazon.nova-pro-v1:0",
        f"{PREFIX}:inference-profile/us.amazon.nova-premier-v1:0",
        "arn:<AWS::Partition>:bedrock:*::foundation-model/amazon.nova-pro-v1:0",
        "arn:<AWS::Partition>:bedrock:*::foundation-model/amazon.nova-premier-v1:0",
    }
    assert {a for s in synth.statements(BEDROCK_ROLE) for a in s["Action"]} <= {
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", "bedrock:InvokeModel"}  # fmt: skip


def test_given_default_config_when_synthesized_then_prepare_function_reads_only_the_drop_zone(synth):
    role = _role_of(synth, "PrepareDataset")
    assert synth.allowed(role, "s3:GetObject") == {f"{BUCKET_ARN}/incoming/*"}
    assert synth.allowed(role, "s3:PutObject") == {f"{BUCKET_ARN}/datasets/*", f"{BUCKET_ARN}/reports/*"}
    assert synth.allowed(role, "s3:AbortMultipartUpload") == {f"{BUCKET_ARN}/datasets/*", f"{BUCKET_ARN}/reports/*"}
    (listing,) = (s for s in synth.statements(role) if "s3:ListBucket" in s["Action"])
    assert listing["Resource"] == [BUCKET_ARN]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}


def test_given_default_config_when_synthesized_then_each_function_reaches_only_its_own_prefixes(synth):
    def s3_access(function: str) -> set[tuple[str, str]]:
        return {
            (action, resource.rsplit("/", 1)[-1] if "/" in resource else "<bucket>")
            for statement in synth.statements(_role_of(synth, function))
            for action in statement["Action"]
            if action.startswith("s3:")
            for resource in statement["Resource"]
        }

    s3_roles = {
        policy_role["Ref"][:-8]
        for policy in synth.resources("AWS::IAM::Policy").values()
        for policy_role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("s3:")
    }
    assert s3_roles == {
        "BedrockServiceRole", "FunctionsPrepareDatasetRole", "FunctionsTryModelRole", "FunctionsFinishRunRole",
        "FunctionsNotifyFailureRole", "FunctionsStartFromDropRole", "FunctionsAwaitJobRole",
        "FunctionsJobStateChangedRole", "FunctionsPreviewInvocationLogsRole", "FunctionsPrepareEvaluationRole",
        "FunctionsEvaluateBatchRole", "FunctionsDecideVerdictRole", "FunctionsTakeJobSlotRole",
        "FunctionsReleaseJobSlotRole", "FunctionsBackOffJobSlotRole", "FunctionsJanitorRole",
    }  # fmt: skip
    # The job queue: its one ledger object, read and written (a conditional write needs both), nothing else.
    for queue_keeper in ("TakeJobSlot", "ReleaseJobSlot", "BackOffJobSlot", "NotifyFailure", "Janitor"):
        for action in ("s3:GetObject", "s3:PutObject"):
            assert f"{BUCKET_ARN}/queue/ledger.json" in synth.allowed(_role_of(synth, queue_keeper), action)
    for slot_function in ("TakeJobSlot", "ReleaseJobSlot", "BackOffJobSlot"):
        assert s3_access(slot_function) == {("s3:GetObject", "ledger.json"), ("s3:PutObject", "ledger.json")}
        assert synth.allowed(_role_of(synth, slot_function), "s3:GetObject") == {f"{BUCKET_ARN}/queue/ledger.json"}
    # The janitor remembers its idle warnings in one object (and may list only that key).
    assert synth.allowed(_role_of(synth, "Janitor"), "s3:PutObject") == {
        f"{BUCKET_ARN}/queue/ledger.json", f"{BUCKET_ARN}/reports/janitor/idle-warnings.json"}
    (listing,) = (s for s in synth.statements(_role_of(synth, "Janitor")) if "s3:ListBucket" in s["Action"])
    assert listing["Condition"] == {"StringEquals": {"s3:prefix": ["reports/janitor/idle-warnings.json"]}}
    # The preview reads and lists the logs (only their prefix) and writes its copy and its report.
    preview = _role_of(synth, "PreviewInvocationLogs")
    assert synth.allowed(preview, "s3:GetObject") == {f"{BUCKET_ARN}/invocation-logs/*"}
    assert synth.allowed(preview, "s3:PutObject") == {f"{BUCKET_ARN}/datasets/*", f"{BUCKET_ARN}/reports/*"}
    (listing,) = (s for s in synth.statements(preview) if "s3:ListBucket" in s["Action"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["invocation-logs/*"]}}
    # The waiting run's token, under waits/: kept and answered by the waiting task, found by the job's event.
    assert s3_access("AwaitJob") == {("s3:PutObject", "*"), ("s3:DeleteObject", "*")}
    assert synth.allowed(_role_of(synth, "AwaitJob"), "s3:PutObject") == {f"{BUCKET_ARN}/waits/*"}
    assert {a for a, _ in s3_access("JobStateChanged")} == {"s3:GetObject", "s3:DeleteObject", "s3:ListBucket"}
    assert synth.allowed(_role_of(synth, "JobStateChanged"), "s3:GetObject") == {f"{BUCKET_ARN}/waits/*"}
    assert synth.allowed(_role_of(synth, "NotifyFailure"), "s3:DeleteObject") == {f"{BUCKET_ARN}/waits/*"}
    assert s3_access("TryModel") == {("s3:GetObject", "*")} and synth.allowed(
        _role_of(synth, "TryModel"), "s3:GetObject"
    ) == {f"{BUCKET_ARN}/datasets/*"}
    assert synth.allowed(_role_of(synth, "FinishRun"), "s3:PutObject") == {f"{BUCKET_ARN}/reports/*"}
    assert {a for a, _ in s3_access("FinishRun")} == {"s3:PutObject"}
    assert synth.allowed(_role_of(synth, "NotifyFailure"), "s3:PutObject") == {
        f"{BUCKET_ARN}/reports/*", f"{BUCKET_ARN}/queue/ledger.json"}
    assert {a for a, _ in s3_access("NotifyFailure")} == {"s3:PutObject", "s3:DeleteObject", "s3:GetObject"}
    assert synth.allowed(_role_of(synth, "StartFromDrop"), "s3:GetObject") == {f"{BUCKET_ARN}/incoming/*"}
    assert {a for a, _ in s3_access("StartFromDrop")} == {"s3:GetObject", "s3:ListBucket"}
    (listing,) = (s for s in synth.statements(_role_of(synth, "StartFromDrop")) if "s3:ListBucket" in s["Action"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}


def test_given_default_config_when_synthesized_then_passrole_is_only_on_the_bedrock_role_for_bedrock(synth):
    passing = [s for s in synth.statements() if "iam:PassRole" in s["Action"]]
    assert len(passing) == 1
    (statement,) = passing
    assert statement["Action"] == ["iam:PassRole"]
    assert len(statement["Resource"]) == 1 and statement["Resource"][0].startswith(f"<{BEDROCK_ROLE}")
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert statement in synth.statements(_role_of(synth, "StartJob"))


def test_given_default_config_when_synthesized_then_no_policy_allows_a_wildcard_action(synth):
    actions = [a for s in synth.statements() for a in s["Action"]]
    assert actions
    assert [a for a in actions if "*" in a] == []
    assert all(s["Effect"] == "Allow" for s in synth.statements())


def test_given_default_config_when_synthesized_then_start_job_may_use_only_the_allowed_models(synth):
    resources = synth.allowed(_role_of(synth, "StartJob"), "bedrock:CreateModelCustomizationJob")
    foundation = {r.rsplit("/", 1)[1] for r in resources if ":foundation-model/" in r}
    allowed = {*synth.config.allowed_teacher_models, *synth.config.allowed_student_models}
    assert foundation == {m.removeprefix("us.") for m in allowed}
    profiles = {r.rsplit("/", 1)[1] for r in resources if ":inference-profile/" in r}
    assert profiles == {m for m in allowed if m.startswith("us.")}
    assert f"{PREFIX}:model-customization-job/*" in resources
    assert f"{PREFIX}:custom-model/*" in resources


def test_given_default_config_when_synthesized_then_each_function_has_only_its_bedrock_actions(synth):
    def bedrock_actions(function: str) -> set[str]:
        return {a for s in synth.statements(_role_of(synth, function)) for a in s["Action"] if a.startswith("bedrock:")}

    assert bedrock_actions("CheckRunSettings") == set()
    assert bedrock_actions("PrepareDataset") == set()
    assert bedrock_actions("StartJob") == {
        "bedrock:CreateModelCustomizationJob",
        "bedrock:GetModelCustomizationJob",
        "bedrock:TagResource",
    }
    assert bedrock_actions("AwaitJob") == {"bedrock:GetModelCustomizationJob"}
    assert bedrock_actions("JobStateChanged") == {"bedrock:GetModelCustomizationJob"}
    assert bedrock_actions("ProvisionThroughput") == {"bedrock:CreateProvisionedModelThroughput", "bedrock:TagResource"}
    assert bedrock_actions("CheckThroughput") == {"bedrock:GetProvisionedModelThroughput"}
    assert bedrock_actions("DeployOnDemand") == {"bedrock:CreateCustomModelDeployment", "bedrock:TagResource"}
    assert bedrock_actions("CheckDeployment") == {"bedrock:GetCustomModelDeployment"}
    assert bedrock_actions("TryModel") == {"bedrock:InvokeModel"}
    assert bedrock_actions("FinishRun") == set()
    assert bedrock_actions("Janitor") == {"bedrock:ListProvisionedModelThroughputs", "bedrock:ListCustomModelDeployments",
                                          "bedrock:ListTagsForResource", "bedrock:DeleteProvisionedModelThroughput",
                                          "bedrock:DeleteCustomModelDeployment"}  # fmt: skip
    for slot_function in ("TakeJobSlot", "ReleaseJobSlot", "BackOffJobSlot"):
        assert bedrock_actions(slot_function) == set()
    assert bedrock_actions("StartFromDrop") == set()
    assert bedrock_actions("NotifyFailure") == {
        "bedrock:ListProvisionedModelThroughputs",
        "bedrock:ListTagsForResource",
        "bedrock:DeleteProvisionedModelThroughput",
        "bedrock:GetModelCustomizationJob",  # an aborted run's job is stopped if it still runs
        "bedrock:StopModelCustomizationJob",
    }
    assert synth.allowed(_role_of(synth, "NotifyFailure"), "bedrock:StopModelCustomizationJob") == {
        f"{PREFIX}:model-customization-job/*"}  # fmt: skip
    # Converse on whatever serves the model: a provisioned model or an on-demand deployment.
    assert synth.allowed(_role_of(synth, "TryModel"), "bedrock:InvokeModel") == {
        f"{PREFIX}:provisioned-model/*",
        f"{PREFIX}:custom-model-deployment/*",
    }
    (delete,) = [
        s
        for s in synth.statements(_role_of(synth, "NotifyFailure"))
        if "bedrock:DeleteProvisionedModelThroughput" in s["Action"]
    ]
    assert delete["Resource"] == [f"{PREFIX}:provisioned-model/*"]
    assert delete["Condition"] == {"StringEquals": {"aws:ResourceTag/created-by": "distill-pipeline"}}
    assert synth.allowed(_role_of(synth, "AwaitJob"), "bedrock:GetModelCustomizationJob") == {
        f"{PREFIX}:model-customization-job/*"
    }
    assert synth.allowed(_role_of(synth, "ProvisionThroughput"), "bedrock:CreateProvisionedModelThroughput") == {
        f"{PREFIX}:custom-model/*",
        f"{PREFIX}:provisioned-model/*",
        # The allowed students: the Service Authorization Reference lists foundation-model for this action too.
        *(f"arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/{m}" for m in synth.config.allowed_student_models),
    }
    assert synth.allowed(_role_of(synth, "CheckThroughput"), "bedrock:GetProvisionedModelThroughput") == {
        f"{PREFIX}:provisioned-model/*"}  # fmt: skip
    for action in ("bedrock:CreateCustomModelDeployment", "bedrock:TagResource"):
        assert synth.allowed(_role_of(synth, "DeployOnDemand"), action) == {
            f"{PREFIX}:custom-model/*",
            f"{PREFIX}:custom-model-deployment/*",
        }, action
    assert synth.allowed(_role_of(synth, "CheckDeployment"), "bedrock:GetCustomModelDeployment") == {
        f"{PREFIX}:custom-model-deployment/*"
    }
    # The failure cost guard leaves deployments alone (billed per token); only a student that failed its
    # evaluation (or was promoted behind another deployment) has its own serving removed, the pipeline's only.
    # The hourly janitor deletes the pipeline's serving whose servingTtlHours passed (never a commitment: its
    # code checks; never anything untagged: the condition).
    deleters = [s for s in synth.statements() if "bedrock:DeleteCustomModelDeployment" in s["Action"]]
    removers = synth.statements(_role_of(synth, "RemoveServing")) + synth.statements(_role_of(synth, "Janitor"))
    assert len(deleters) == 2 and all(s in removers for s in deleters)
    assert all(s["Condition"] == {"StringEquals": {"aws:ResourceTag/created-by": "distill-pipeline"}}
               for s in deleters)  # fmt: skip


def test_given_default_config_when_synthesized_then_the_evaluation_may_ask_only_the_student_teacher_and_judge(synth):
    def bedrock_actions(function: str) -> set[str]:
        return {a for s in synth.statements(_role_of(synth, function)) for a in s["Action"] if a.startswith("bedrock:")}

    assert bedrock_actions("PrepareEvaluation") == bedrock_actions("DecideVerdict") == set()
    assert bedrock_actions("EvaluateBatch") == {"bedrock:InvokeModel"}
    teachers = {arn for m in synth.config.allowed_teacher_models for arn in (
        [f"{PREFIX}:inference-profile/{m}", f"arn:<AWS::Partition>:bedrock:*::foundation-model/{m.split('.', 1)[1]}"]
        if m.startswith("us.") else [f"arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/{m}"])}  # fmt: skip
    assert synth.allowed(_role_of(synth, "EvaluateBatch"), "bedrock:InvokeModel") == {
        f"{PREFIX}:provisioned-model/*", f"{PREFIX}:custom-model-deployment/*", *teachers}
    assert bedrock_actions("PromoteStudent") == {"bedrock:UpdateCustomModelDeployment",
                                                 "bedrock:GetCustomModelDeployment"}  # fmt: skip
    assert bedrock_actions("RemoveServing") == {"bedrock:GetProvisionedModelThroughput",
                                                "bedrock:DeleteProvisionedModelThroughput",
                                                "bedrock:DeleteCustomModelDeployment"}  # fmt: skip
    for function in ("PrepareEvaluation", "EvaluateBatch", "DecideVerdict"):
        assert synth.allowed(_role_of(synth, function), "s3:PutObject") == {f"{BUCKET_ARN}/reports/*"}, function
    assert synth.allowed(_role_of(synth, "DecideVerdict"), "s3:GetObject") == {
        f"{BUCKET_ARN}/reports/*", f"{BUCKET_ARN}/jobs/*"}


def test_given_default_config_when_synthesized_then_functions_write_logs_only_to_their_own_group(synth):
    for key, role in synth.resources("AWS::IAM::Role").items():
        if key.startswith("Functions"):
            assert not role["Properties"].get("ManagedPolicyArns"), key
            name = key.removeprefix("Functions").split("Role")[0]
            assert synth.allowed(key[:-8], "logs:PutLogEvents") == {
                f"<Functions{name}Logs{_suffix(synth, f'Functions{name}Logs')}.Arn>"
            }


def _suffix(synth, prefix: str) -> str:
    (key,) = (k for k in synth.resources("AWS::Logs::LogGroup") if k.startswith(prefix))
    return key.removeprefix(prefix)


def test_given_default_config_when_synthesized_then_the_drop_starter_may_only_start_and_look_up_runs(synth):
    actions = {
        a for s in synth.statements(_role_of(synth, "StartFromDrop")) for a in s["Action"] if a.startswith("states:")
    }
    assert actions == {"states:StartExecution", "states:DescribeExecution"}
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine")
    assert synth.allowed(_role_of(synth, "StartFromDrop"), "states:StartExecution") == {f"<{machine}>"}
    (described,) = synth.allowed(_role_of(synth, "StartFromDrop"), "states:DescribeExecution")
    assert ":execution:" in described and described.endswith(":*")
