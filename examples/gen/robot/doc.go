// Package robot is the code iox2gen generates from examples/idl/robot.idl:
// the payload types of a robot's IMU stream (Imu, Vec3, Mode, ...) and the
// publish-subscribe services "robot/imu" (OpenOrCreateImu and friends,
// ImuPublisher and ImuSubscriber) and "robot/points" (slices of Vec3 with
// a Stamp user header), the request-response service "robot/plan"
// (OpenOrCreatePlan, PlanClient and PlanServer) and the event service
// "robot/alarm" (OpenOrCreateAlarm, AlarmNotifier and AlarmListener).
// robot.iox2.api.h gives C programs the typed functions of these services
// (robot_Imu_service, robot_Imu_publisher_loan, ...: iox2go's C library).
// robot.iox2.h and robot.iox2.rs describe the same payloads and service
// settings for C and Rust.
//
// Do not edit the generated files; change the IDL and run make generate.
package robot

//go:generate go run github.com/iox2go/iox2go/cmd/iox2gen -out . -package robot ../../idl/robot.idl
